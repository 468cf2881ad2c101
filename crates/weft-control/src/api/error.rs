//! The REST API's errors: a status and a JSON body `{"error": "…"}`.
//!
//! Messages name the field at fault and never carry a secret: parse errors
//! of secrets do not echo them, values are cut (`weft_model::error::shown`),
//! and a server-side failure answers "internal error" while its chain goes
//! to the log.

use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weft_model::ModelError;
use weft_model::error::chain;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing, malformed, unknown or revoked API key (send Authorization: Bearer wak_…)",
        )
    }

    pub fn not_found(what: &str, name: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{what} {} not found", weft_model::error::shown(name)),
        )
    }
}

impl From<ModelError> for ApiError {
    fn from(err: ModelError) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, err.to_string())
    }
}

/// By what the store says happened: exists already or no room left
/// (409), not found (404), a request that cannot hold (400), a token
/// refused (401); the store unreachable (503: retry) or failing (500),
/// whose chain goes to the log only.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        let status = match &err {
            StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
            StoreError::TenantExists(_)
            | StoreError::NetworkExists(_)
            | StoreError::HostNameTaken(_)
            | StoreError::SiteExists(_)
            | StoreError::SiteNotEmpty { .. }
            | StoreError::VniTaken { .. }
            | StoreError::HostsOfSite { .. }
            | StoreError::CarriesVxlan { .. }
            | StoreError::VmExists(_)
            | StoreError::VmNicExists { .. } => StatusCode::CONFLICT,
            StoreError::SubnetOverlap { .. }
            | StoreError::NotAMember(_)
            | StoreError::NotWireguard(_)
            | StoreError::VmRefused(_) => StatusCode::BAD_REQUEST,
            StoreError::NoFreeBlock { .. } => StatusCode::CONFLICT,
            StoreError::TokenRefused { .. } => StatusCode::UNAUTHORIZED,
            StoreError::Unavailable { .. } => {
                tracing::error!(error = %chain(&err), "control plane store");
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "control plane store unavailable: etcd did not answer (has it lost quorum?); retry later",
                );
            }
            StoreError::Open { .. }
            | StoreError::Internal { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Worker => {
                tracing::error!(error = %chain(&err), "control plane store");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        };
        ApiError::new(status, err.to_string())
    }
}

impl From<crate::model::VmError> for ApiError {
    fn from(err: crate::model::VmError) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A client may paste a key into any field it then sees echoed.
        let body = serde_json::json!({ "error": crate::secret::scrub(&self.message) });
        (self.status, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
