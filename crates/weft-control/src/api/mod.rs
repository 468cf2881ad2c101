//! The tenants' REST API under `/v1`.
//!
//! Every route is one row of [`routes`]: method, path, who may call it
//! ([`Policy`]) and what it does. The router, the OpenAPI document and
//! the authorization tests are all made from that table, so a route cannot
//! exist without a policy, be missing from the document, or escape the
//! test that calls it without credentials and with another tenant's key.
//!
//! Tenants authenticate with `Authorization: Bearer wak_…`. A tenant's
//! objects are reached only through the tenant its key belongs to: another
//! tenant's network or host is "not found", never "forbidden", so names
//! and ids of other tenants cannot be probed. Nothing here reads
//! `X-Forwarded-For` or any other client-supplied address header.

mod body;
pub mod dashboard;
pub(crate) mod error;
mod events;
pub(crate) mod grpc;
mod handlers;
pub mod logs;
mod openapi;
pub mod read_only;
mod routes;
mod sites;
mod tokens;
mod vms;
mod vxlan;

use crate::model::TenantId;
use crate::secret::{Secret, SecretKind};
use crate::store::Store;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};
use error::{ApiError, ApiResult};
use std::sync::Arc;

pub use routes::routes;

/// Unix seconds; a field so tests can move time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Clock,
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Anyone: only the OpenAPI document.
    Public,
    /// A tenant's valid API key; the handler sees only that tenant.
    Tenant,
}

/// The authenticated caller of a [`Policy::Tenant`] route.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: TenantId,
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub policy: Policy,
    pub summary: &'static str,
    /// Name of the request body's schema in the OpenAPI document.
    pub request: Option<&'static str>,
    /// Name of the success response's schema, and its status.
    pub response: (&'static str, u16),
    /// The success response's media type.
    pub content: &'static str,
    /// Query parameters it takes: name and what it means.
    pub query: &'static [(&'static str, &'static str)],
    handler: MethodRouter<AppState>,
}

impl Route {
    /// A route answering `content` (e.g. JSON lines) instead of JSON.
    fn answers(self, content: &'static str) -> Route {
        Route { content, ..self }
    }

    fn with_query(self, query: &'static [(&'static str, &'static str)]) -> Route {
        Route { query, ..self }
    }
}

/// The API as an axum router, with each route's policy applied.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for r in routes() {
        let handler = match r.policy {
            Policy::Public => r.handler,
            Policy::Tenant => r.handler.route_layer(middleware::from_fn_with_state(
                state.clone(),
                require_tenant,
            )),
        };
        router = router.route(r.path, handler);
    }
    router
        .fallback(|| async { ApiError::new(axum::http::StatusCode::NOT_FOUND, "no such route") })
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn require_tenant(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> ApiResult<Response> {
    let caller = authenticate(&state, req.headers()).await?;
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}

/// The tenant of the request's API key. Every failure looks the same to
/// the caller; the log says which one it was, by key id only.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(ApiError::unauthorized)?;
    let key = Secret::parse(SecretKind::ApiKey, presented.trim()).map_err(|_| {
        tracing::debug!("refused a malformed API key");
        ApiError::unauthorized()
    })?;
    let Some(stored) = state.store.api_key(key.id()).await? else {
        tracing::debug!(key = %key, "refused an unknown API key");
        return Err(ApiError::unauthorized());
    };
    if !stored.hash.matches(&key) {
        tracing::debug!(key = %key, "refused an API key whose secret does not match");
        return Err(ApiError::unauthorized());
    }
    if stored.info.revoked_at.is_some() {
        tracing::debug!(key = %key, "refused a revoked API key");
        return Err(ApiError::unauthorized());
    }
    Ok(Caller {
        tenant: stored.info.tenant,
    })
}

/// One debug line per request: the route's template (never the path as
/// sent, which may hold anything), the method and the status.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(no route)".into());
    let response = next.run(req).await;
    tracing::debug!(%method, %route, status = response.status().as_u16(), "request");
    response
}

#[cfg(test)]
mod tests;
