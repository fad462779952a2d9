//! The one place HTTP status codes are chosen for errors. Internal causes are logged once and
//! never sent to the client.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{httpsig::VerifyError, service};

/// Seconds a client is asked to wait when the database is unavailable.
pub const RETRY_AFTER_S: &str = "5";

/// An error at the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A use case failed.
    #[error(transparent)]
    Service(#[from] service::Error),
    /// A signature was missing or bad.
    #[error(transparent)]
    Signature(#[from] VerifyError),
    /// The request itself was malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
}

impl AppError {
    fn status(&self) -> StatusCode {
        use service::Error as E;
        match self {
            Self::Service(e) => match e {
                E::Invalid(_) => StatusCode::BAD_REQUEST,
                E::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                E::NotFound(_) => StatusCode::NOT_FOUND,
                E::Gone(_) => StatusCode::GONE,
                E::Conflict(_) => StatusCode::CONFLICT,
                E::Forbidden(_) => StatusCode::FORBIDDEN,
                E::Unauthorized(_) => StatusCode::UNAUTHORIZED,
                E::Remote(_) => StatusCode::BAD_GATEWAY,
                E::Store(s) if s.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
                E::Store(_) | E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Self::Signature(_) => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // The database is unreachable or full: say so, and when to try again, at once
            // (the pool gives up after `store::ACQUIRE_TIMEOUT`, not 30 s).
            tracing::warn!(error = %self, "request failed: the database is unavailable");
            let mut r = (
                status,
                Json(json!({ "error": "the service is briefly unavailable; try again shortly" })),
            )
                .into_response();
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_S),
            );
            return r;
        }
        let message = if status.is_server_error() && status != StatusCode::BAD_GATEWAY {
            tracing::error!(error = ?self, "request failed");
            "internal error".to_owned()
        } else {
            tracing::info!(status = status.as_u16(), error = %self, "request refused");
            self.to_string()
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
