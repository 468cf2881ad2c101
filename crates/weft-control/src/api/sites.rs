//! The sites' routes: a tenant groups its hosts into sites, moves hosts
//! between them, and lists a site's hosts. Parsed into typed values
//! here; the store keeps a site with hosts or networks in it.

use super::body::JsonBody;
use super::error::{ApiError, ApiResult};
use super::handlers::{HostContext, HostView, host_id, host_view};
use super::{AppState, Caller};
use crate::model::{Site, SiteSpec, validate_site_name};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSite {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// `{"site": "edge"}` moves the host there, `{"site": null}` out of any.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateHost {
    #[serde(default, deserialize_with = "present")]
    site: Option<Option<String>>,
}

/// A field that was sent, null or not (missing stays `None`).
fn present<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(de).map(Some)
}

#[derive(Serialize)]
pub struct SiteView {
    name: String,
    labels: BTreeMap<String, String>,
    created_at: i64,
}

fn site_view(site: Site) -> SiteView {
    SiteView {
        name: site.spec.name,
        labels: site.spec.labels,
        created_at: site.created_at,
    }
}

/// A site's name from the path; a malformed one names no site, and is
/// not echoed.
pub(super) fn site_name(text: &str) -> ApiResult<&str> {
    validate_site_name(text)
        .map(|()| text)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "site not found"))
}

/// The caller's site `name`, or 404.
pub(super) async fn find_site(state: &AppState, caller: &Caller, name: &str) -> ApiResult<Site> {
    let name = site_name(name)?;
    let sites = state.store.list_sites(&caller.tenant).await?;
    sites
        .into_iter()
        .find(|s| s.spec.name == name)
        .ok_or_else(|| ApiError::not_found("site", name))
}

pub async fn create_site(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(req): JsonBody<CreateSite>,
) -> ApiResult<(StatusCode, Json<SiteView>)> {
    let spec = SiteSpec::new(&req.name, req.labels)?;
    let site = state
        .store
        .create_site(&caller.tenant, &spec, (state.clock)())
        .await?;
    tracing::info!(tenant = %caller.tenant, site = %site.spec.name, "site created");
    Ok((StatusCode::CREATED, Json(site_view(site))))
}

pub async fn list_sites(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Vec<SiteView>>> {
    let sites = state.store.list_sites(&caller.tenant).await?;
    Ok(Json(sites.into_iter().map(site_view).collect()))
}

pub async fn get_site(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<SiteView>> {
    Ok(Json(site_view(find_site(&state, &caller, &name).await?)))
}

pub async fn delete_site(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let name = site_name(&name)?;
    state.store.delete_site(&caller.tenant, name).await?;
    tracing::info!(tenant = %caller.tenant, site = %name, "site deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn site_hosts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<HostView>>> {
    let site = find_site(&state, &caller, &name).await?;
    let ctx = HostContext::load(&state, &caller.tenant).await?;
    let hosts = state.store.list_hosts(&caller.tenant).await?;
    let now = (state.clock)();
    Ok(Json(
        hosts
            .into_iter()
            .filter(|h| h.site.as_deref() == Some(site.spec.name.as_str()))
            .map(|h| host_view(h, &ctx, now))
            .collect(),
    ))
}

pub async fn update_host(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<UpdateHost>,
) -> ApiResult<Json<HostView>> {
    let id = host_id(&id)?;
    let Some(site) = req.site else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid field site: missing (a site's name, or null for none)",
        ));
    };
    if let Some(site) = &site {
        validate_site_name(site)?;
    }
    let host = state
        .store
        .set_host_site(&caller.tenant, &id, site.as_deref())
        .await?;
    tracing::info!(tenant = %caller.tenant, host = %id, site = ?host.site, "host's site set");
    let ctx = HostContext::load(&state, &caller.tenant).await?;
    Ok(Json(host_view(host, &ctx, (state.clock)())))
}
