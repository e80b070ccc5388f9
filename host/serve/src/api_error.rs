//! Errors the HTTP API answers with: a status, a kind (for metrics) and a
//! message that says what to fix, as JSON `{"error": "...", "kind": "..."}`
//! (the Open Inference Protocol's error body, plus the kind).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use edgescore_protocol::ProtocolError;

use edgescore_runtime::component_scorer::ComponentError;

/// One failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or does not fit the model: the client's to fix.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("this route does not take that method (infer and score are POST; metadata is GET)")]
    MethodNotAllowed,
    /// The model exists but no version of it is serving.
    #[error("{0}")]
    NotReady(String),
    #[error(
        "the request body is larger than the limit of {limit} bytes (max_body_bytes in the server's config)"
    )]
    TooLarge { limit: usize },
    /// More rows (or transactions) than one request may carry.
    #[error(
        "the request carries more than {limit} {what}, the limit (max_rows_per_request in the server's config); send at most {limit} {what} per request"
    )]
    TooManyRows { limit: usize, what: &'static str },
    #[error("the request body did not arrive within {seconds} s")]
    Timeout { seconds: u64 },
    #[error("this route needs the admin bearer token (Authorization: Bearer <token>)")]
    Unauthorized,
    /// No admin token is configured, so no request can be authorized.
    #[error(
        "admin routes are disabled: set admin_token in the config file or EDGESCORE_ADMIN_TOKEN"
    )]
    AdminDisabled,
    /// The model failed (trap, deadline): not the client's fault.
    #[error("{0}")]
    Model(String),
    /// A dependency (the feature store) is unreachable: retry later.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotReady(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } | Self::TooManyRows { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::AdminDisabled => StatusCode::UNAUTHORIZED,
            Self::Model(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The label of `edgescore_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotReady(_) => "not_ready",
            Self::TooLarge { .. } => "too_large",
            Self::TooManyRows { .. } => "too_many_rows",
            Self::Timeout { .. } => "timeout",
            Self::Unauthorized => "unauthorized",
            Self::AdminDisabled => "admin_disabled",
            Self::Model(_) => "model_failure",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

impl From<ComponentError> for ApiError {
    fn from(e: ComponentError) -> Self {
        match e {
            ComponentError::BadInput { .. } | ComponentError::BadEvent { .. } => {
                Self::BadRequest(e.to_string())
            }
            _ if e.store_unavailable() => Self::Unavailable(e.to_string()),
            _ => Self::Model(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    /// The JSON error. A body refused unread (too large) or not read to its
    /// end (too slow) leaves the connection mid-request, so the server
    /// closes it: the answer says `Connection: close`, and a client does
    /// not send its next request on a connection about to go away.
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string(), "kind": self.kind() });
        let close = matches!(self, Self::TooLarge { .. } | Self::Timeout { .. });
        let mut response = (self.status(), Json(body)).into_response();
        if close {
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

/// A body that does not decode ([`edgescore_protocol`]): 413 for more rows
/// (or transactions) than a request may carry, 400 for the rest.
impl From<ProtocolError> for ApiError {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::TooManyRows { limit, what } => Self::TooManyRows { limit, what },
            other => Self::BadRequest(other.to_string()),
        }
    }
}
