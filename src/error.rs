//! The one place HTTP status codes are chosen for errors. Internal causes are logged once and
//! never sent to the client.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{httpsig::VerifyError, service};

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
