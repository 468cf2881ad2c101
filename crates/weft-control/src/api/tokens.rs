//! Enrollment tokens as the tenant sees them: made (the secret shown
//! once), listed (never a secret or hash), revoked.

use super::body::JsonBody;
use super::error::{ApiError, ApiResult};
use super::{AppState, Caller};
use crate::secret::{Secret, SecretKind};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

/// Enrollment tokens live at most this long.
pub const MAX_TOKEN_TTL_SECS: u64 = 30 * 86_400;
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 3600;
pub const MAX_TOKEN_USES: u32 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    #[serde(default)]
    ttl_seconds: Option<u64>,
    #[serde(default)]
    uses: Option<u32>,
    /// The site the hosts it enrolls join.
    #[serde(default)]
    site: Option<String>,
}

#[derive(Serialize)]
pub struct TokenCreated {
    id: String,
    /// The whole token: shown this once, stored only as a hash.
    token: String,
    expires_at: i64,
    uses: u32,
    site: Option<String>,
}

/// A token as listed: never its secret or hash.
#[derive(Serialize)]
pub struct TokenView {
    id: String,
    created_at: i64,
    expires_at: i64,
    uses_left: u32,
    site: Option<String>,
    /// `valid`, `expired` or `used up`.
    state: &'static str,
}

pub async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(req): JsonBody<CreateToken>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let ttl = req.ttl_seconds.unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    if ttl == 0 || ttl > MAX_TOKEN_TTL_SECS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid field ttl_seconds: {ttl}: must be 1 to {MAX_TOKEN_TTL_SECS}"),
        ));
    }
    let uses = req.uses.unwrap_or(1);
    if uses == 0 || uses > MAX_TOKEN_USES {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid field uses: {uses}: must be 1 to {MAX_TOKEN_USES}"),
        ));
    }
    if let Some(site) = &req.site {
        crate::model::validate_site_name(site)?;
    }
    let now = (state.clock)();
    let token = Secret::generate(SecretKind::EnrollToken);
    let site = req.site.as_deref();
    let info = state
        .store
        .create_site_token(&caller.tenant, &token, now + ttl as i64, uses, site, now)
        .await?;
    tracing::info!(tenant = %caller.tenant, token = %token, uses, site, "enrollment token created");
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            id: info.id,
            token: token.expose().to_string(),
            expires_at: info.expires_at,
            uses,
            site: info.site,
        }),
    ))
}

pub async fn list_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Vec<TokenView>>> {
    let now = (state.clock)();
    let tokens = state.store.list_tokens(&caller.tenant).await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenView {
                state: if t.expires_at <= now {
                    "expired"
                } else if t.uses_left == 0 {
                    "used up"
                } else {
                    "valid"
                },
                id: t.id,
                created_at: t.created_at,
                expires_at: t.expires_at,
                uses_left: t.uses_left,
                site: t.site,
            })
            .collect(),
    ))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    // A token id is 12 hex digits; anything else names no token and is
    // not echoed (it may be a whole secret pasted by mistake).
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "token not found"));
    }
    state.store.revoke_token(&caller.tenant, &id).await?;
    tracing::info!(tenant = %caller.tenant, token = %id, "enrollment token revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests;
