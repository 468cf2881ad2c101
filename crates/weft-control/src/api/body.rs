//! Request bodies: JSON only, at most [`MAX_BODY`] bytes, unknown fields
//! refused, every error naming the field (`serde_path_to_error`).

use super::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// The largest body any route takes; every body here is a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body parsed into `T` (which should `deny_unknown_fields`).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "application/json");
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON (Content-Type: application/json)",
            ));
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body larger than {MAX_BODY} bytes"),
                )
            })?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parse `bytes` as `T`, naming the field of the first error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        // serde quotes wrong values back; a long one is cut.
        let inner = cut(&err.into_inner().to_string());
        let message = if path == "." || path.is_empty() {
            format!("invalid body: {inner}")
        } else {
            format!("invalid field {path}: {inner}")
        };
        ApiError::new(StatusCode::BAD_REQUEST, message)
    })
}

fn cut(text: &str) -> String {
    const MAX: usize = 200;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let head: String = text.chars().take(MAX).collect();
    format!("{head}… (cut)")
}
