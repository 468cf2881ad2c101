//! VXLAN networks of a site: made for exactly the site's hosts (the
//! store keeps them so), read and deleted by id — the network's name,
//! unique among the tenant's networks.

use super::body::JsonBody;
use super::error::{ApiError, ApiResult};
use super::handlers::BlockView;
use super::sites::find_site;
use super::{AppState, Caller};
use crate::model::{HostBlock, Network, NetworkSpec, VxlanRequest};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVxlanNetwork {
    name: String,
    subnet: String,
    #[serde(default)]
    vni: Option<u32>,
    #[serde(default)]
    mtu: Option<u32>,
    #[serde(default)]
    over: Option<String>,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    block_prefix: Option<u8>,
}

#[derive(Serialize)]
pub struct VxlanNetworkView {
    /// The network's name (unique among the tenant's networks).
    id: String,
    name: String,
    site: String,
    subnet: String,
    vni: u32,
    /// `None`: the largest the underlay carries (1450; 1370 over WireGuard).
    mtu: Option<u32>,
    over: Option<String>,
    internal: bool,
    domain: String,
    block_prefix: u8,
    created_at: i64,
    blocks: Vec<BlockView>,
}

/// `net`'s view, if it is a VXLAN network.
fn vxlan_view(net: Network, blocks: &[HostBlock]) -> Option<VxlanNetworkView> {
    let vx = net.spec.vxlan?;
    Some(VxlanNetworkView {
        blocks: (blocks.iter())
            .filter(|b| b.network == net.spec.name)
            .map(BlockView::new)
            .collect(),
        id: net.spec.name.clone(),
        name: net.spec.name,
        site: vx.site,
        subnet: net.spec.subnet.to_string(),
        vni: vx.vni.unwrap_or_default(),
        mtu: vx.mtu,
        over: vx.over,
        internal: net.spec.internal,
        domain: net.spec.domain,
        block_prefix: net.spec.block_prefix,
        created_at: net.created_at,
    })
}

/// The caller's VXLAN network `id`, or 404 (a WireGuard network is not
/// one).
async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Network> {
    let not_found = || ApiError::not_found("VXLAN network", id);
    weft_model::names::validate_network_name(id).map_err(|_| not_found())?;
    let networks = state.store.list_networks(&caller.tenant).await?;
    networks
        .into_iter()
        .find(|n| n.spec.name == id && n.spec.vxlan.is_some())
        .ok_or_else(not_found)
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(site): Path<String>,
    JsonBody(req): JsonBody<CreateVxlanNetwork>,
) -> ApiResult<(StatusCode, Json<VxlanNetworkView>)> {
    let site = find_site(&state, &caller, &site).await?;
    let spec = NetworkSpec::vxlan(VxlanRequest {
        name: &req.name,
        subnet: &req.subnet,
        site: &site.spec.name,
        vni: req.vni,
        mtu: req.mtu,
        over: req.over.as_deref(),
        internal: req.internal,
        domain: &req.domain,
        block_prefix: req.block_prefix,
    })?;
    let net = state
        .store
        .create_network(&caller.tenant, &spec, (state.clock)())
        .await?;
    let vni = net.spec.vxlan.as_ref().and_then(|v| v.vni);
    tracing::info!(tenant = %caller.tenant, site = %site.spec.name, network = %net.spec.name, vni, "VXLAN network created");
    let blocks = state.store.blocks(&caller.tenant).await?;
    let view = vxlan_view(net, &blocks)
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(site): Path<String>,
) -> ApiResult<Json<Vec<VxlanNetworkView>>> {
    let site = find_site(&state, &caller, &site).await?;
    let blocks = state.store.blocks(&caller.tenant).await?;
    let networks = state.store.list_networks(&caller.tenant).await?;
    Ok(Json(
        networks
            .into_iter()
            .filter(|n| {
                n.spec
                    .vxlan
                    .as_ref()
                    .is_some_and(|v| v.site == site.spec.name)
            })
            .filter_map(|n| vxlan_view(n, &blocks))
            .collect(),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<VxlanNetworkView>> {
    let net = find(&state, &caller, &id).await?;
    let blocks = state.store.blocks(&caller.tenant).await?;
    let view = vxlan_view(net, &blocks).ok_or_else(|| ApiError::not_found("VXLAN network", &id))?;
    Ok(Json(view))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let net = find(&state, &caller, &id).await?;
    state
        .store
        .delete_network(&caller.tenant, &net.spec.name)
        .await?;
    tracing::info!(tenant = %caller.tenant, network = %net.spec.name, "VXLAN network deleted");
    Ok(StatusCode::NO_CONTENT)
}
