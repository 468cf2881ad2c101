//! The routes' handlers: parse into typed values, call the store with the
//! caller's tenant, answer with views. Views carry no secret: a network's
//! view has no keys at all, a host's only what the tenant may see.

use super::body::JsonBody;
use super::error::{ApiError, ApiResult};
use super::{AppState, Caller};
use crate::model::{HostBlock, HostId, HostKey, Network, NetworkSpec, TenantId};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateNetwork {
    name: String,
    subnet: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    block_prefix: Option<u8>,
}

/// `{"all": true}` or `{"hosts": [id, …]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetNetworkHosts {
    #[serde(default)]
    all: bool,
    #[serde(default)]
    hosts: Option<Vec<String>>,
}

#[derive(Serialize)]
pub struct NetworkHostsView {
    network: String,
    all: bool,
    hosts: Vec<BlockView>,
}

#[derive(Serialize)]
pub struct BlockView {
    host: HostId,
    block: String,
}

impl BlockView {
    pub(super) fn new(b: &HostBlock) -> BlockView {
        BlockView {
            host: b.host.clone(),
            block: b.block.to_string(),
        }
    }
}

#[derive(Serialize)]
pub struct NetworkView {
    name: String,
    subnet: String,
    mode: &'static str,
    internal: bool,
    domain: String,
    block_prefix: u8,
    created_at: i64,
    blocks: Vec<BlockView>,
}

#[derive(Serialize)]
pub struct HostBlockView {
    network: String,
    block: String,
}

/// A host's public key on one network and its age (a private key never
/// reaches the control plane).
#[derive(Serialize)]
pub struct HostKeyView {
    network: String,
    public_key: String,
    /// When the host first reported this key (Unix seconds; null: before
    /// the control plane kept it). A rotation starts it again.
    since: Option<i64>,
}

/// The tenant's rows a host's view is made from.
#[derive(Serialize)]
pub struct HostView {
    id: HostId,
    name: String,
    created_at: i64,
    /// `online` (a report within [`ONLINE_WITHIN_SECS`]), `offline`, or
    /// `never` (enrolled, never reported).
    state: &'static str,
    /// Its underlay address, version and last report (heartbeat).
    endpoint: Option<String>,
    version: Option<String>,
    last_seen: Option<i64>,
    /// Its peers by health state, from its last report.
    peer_health: std::collections::BTreeMap<String, u32>,
    /// The site it is in, if any.
    site: Option<String>,
    blocks: Vec<HostBlockView>,
    keys: Vec<HostKeyView>,
    /// Its peer links as last reported, each peer named by host id when
    /// its key is one of the tenant's hosts'.
    links: Vec<LinkView>,
}

#[derive(Serialize)]
pub struct LinkView {
    network: String,
    peer: Option<HostId>,
    public_key: String,
    health: String,
    last_handshake: Option<i64>,
    rx_bytes: u64,
    tx_bytes: u64,
    endpoint: Option<String>,
}

/// What a host's view needs besides the host: the tenant's blocks, and
/// whose each reported key is.
pub(super) struct HostContext {
    blocks: Vec<HostBlock>,
    /// Every host's key on each network, with its age.
    keys: Vec<HostKey>,
    /// Whose each (network, public key) is.
    owners: std::collections::HashMap<(String, String), HostId>,
}

impl HostContext {
    pub(super) async fn load(state: &AppState, tenant: &TenantId) -> ApiResult<Self> {
        let blocks = state.store.blocks(tenant).await?;
        let keys = state.store.host_keys(tenant).await?;
        let owners = (keys.iter())
            .map(|k| {
                (
                    (k.key.network.clone(), k.key.public_key.clone()),
                    k.host.clone(),
                )
            })
            .collect();
        Ok(HostContext {
            blocks,
            keys,
            owners,
        })
    }
}

#[derive(Serialize)]
pub struct StatusView {
    tenant: String,
    revision: u64,
    networks: Vec<NetworkView>,
    hosts: Vec<HostView>,
    /// How many of the tenant's hosts were deleted (their certificates
    /// revoked) and are not yet purged.
    revoked_hosts: usize,
}

fn network_view(net: Network, blocks: &[HostBlock]) -> NetworkView {
    let spec = net.spec;
    NetworkView {
        blocks: blocks
            .iter()
            .filter(|b| b.network == spec.name)
            .map(BlockView::new)
            .collect(),
        name: spec.name,
        subnet: spec.subnet.to_string(),
        mode: spec.mode.as_str(),
        internal: spec.internal,
        domain: spec.domain,
        block_prefix: spec.block_prefix,
        created_at: net.created_at,
    }
}

/// Agents report every 10 s; three missed reports and a host is offline.
pub const ONLINE_WITHIN_SECS: i64 = 30;

pub(super) fn host_state(last_seen: Option<i64>, now: i64) -> &'static str {
    match last_seen {
        None => "never",
        Some(t) if now - t <= ONLINE_WITHIN_SECS => "online",
        Some(_) => "offline",
    }
}

pub(super) fn host_view(host: crate::model::Host, ctx: &HostContext, now: i64) -> HostView {
    HostView {
        state: host_state(host.last_seen, now),
        keys: (ctx.keys.iter())
            .filter(|k| k.host == host.id)
            .map(|k| HostKeyView {
                network: k.key.network.clone(),
                public_key: k.key.public_key.clone(),
                since: k.since,
            })
            .collect(),
        links: host
            .peer_links
            .into_iter()
            .map(|l| LinkView {
                peer: ctx
                    .owners
                    .get(&(l.network.clone(), l.public_key.clone()))
                    .cloned(),
                network: l.network,
                public_key: l.public_key,
                health: l.health,
                last_handshake: l.last_handshake,
                rx_bytes: l.rx_bytes,
                tx_bytes: l.tx_bytes,
                endpoint: l.endpoint,
            })
            .collect(),
        blocks: ctx
            .blocks
            .iter()
            .filter(|b| b.host == host.id)
            .map(|b| HostBlockView {
                network: b.network.clone(),
                block: b.block.to_string(),
            })
            .collect(),
        id: host.id,
        name: host.name,
        created_at: host.created_at,
        endpoint: host.endpoint,
        version: host.version,
        last_seen: host.last_seen,
        peer_health: host.peer_health,
        site: host.site,
    }
}

/// A host id from the path; a malformed one cannot name any host, and is
/// not echoed (it may be anything, a secret pasted by mistake too).
pub(super) fn host_id(text: &str) -> ApiResult<HostId> {
    HostId::parse("host id", text)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "host not found"))
}

/// A network name from the path, likewise.
fn network_name(text: &str) -> ApiResult<&str> {
    weft_model::names::validate_network_name(text)
        .map(|()| text)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "network not found"))
}

pub async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<StatusView>> {
    let store = &state.store;
    let revision = store.revision().await?;
    let ctx = HostContext::load(&state, &caller.tenant).await?;
    let networks = store.list_networks(&caller.tenant).await?;
    let hosts = store.list_hosts(&caller.tenant).await?;
    let revoked_hosts = store.revoked_hosts(&caller.tenant).await?.len();
    Ok(Json(StatusView {
        tenant: caller.tenant.to_string(),
        revision,
        revoked_hosts,
        networks: networks
            .into_iter()
            .map(|n| network_view(n, &ctx.blocks))
            .collect(),
        hosts: hosts
            .into_iter()
            .map(|h| host_view(h, &ctx, (state.clock)()))
            .collect(),
    }))
}

pub async fn list_networks(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Vec<NetworkView>>> {
    let blocks = state.store.blocks(&caller.tenant).await?;
    let networks = state.store.list_networks(&caller.tenant).await?;
    Ok(Json(
        networks
            .into_iter()
            .map(|n| network_view(n, &blocks))
            .collect(),
    ))
}

pub async fn create_network(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(req): JsonBody<CreateNetwork>,
) -> ApiResult<(StatusCode, Json<NetworkView>)> {
    let spec = NetworkSpec::new(
        &req.name,
        &req.subnet,
        &req.mode,
        req.internal,
        &req.domain,
        req.block_prefix,
    )?;
    let net = state
        .store
        .create_network(&caller.tenant, &spec, (state.clock)())
        .await?;
    tracing::info!(tenant = %caller.tenant, network = %net.spec.name, subnet = %net.spec.subnet, "network created");
    let blocks = state.store.blocks(&caller.tenant).await?;
    Ok((StatusCode::CREATED, Json(network_view(net, &blocks))))
}

pub async fn get_network(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<NetworkView>> {
    let name = network_name(&name)?;
    let networks = state.store.list_networks(&caller.tenant).await?;
    let net = networks
        .into_iter()
        .find(|n| n.spec.name == name)
        .ok_or_else(|| ApiError::not_found("network", name))?;
    let blocks = state.store.blocks(&caller.tenant).await?;
    Ok(Json(network_view(net, &blocks)))
}

pub async fn delete_network(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let name = network_name(&name)?;
    state.store.delete_network(&caller.tenant, name).await?;
    tracing::info!(tenant = %caller.tenant, network = %name, "network deleted");
    Ok(StatusCode::NO_CONTENT)
}

fn network_hosts_view(network: &str, members: crate::model::NetworkHosts) -> NetworkHostsView {
    NetworkHostsView {
        network: network.to_string(),
        all: members.all,
        hosts: members
            .blocks
            .into_iter()
            .map(|b| BlockView {
                host: b.host,
                block: b.block.to_string(),
            })
            .collect(),
    }
}

pub async fn get_network_hosts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<NetworkHostsView>> {
    let name = network_name(&name)?;
    let members = state.store.network_hosts(&caller.tenant, name).await?;
    Ok(Json(network_hosts_view(name, members)))
}

pub async fn set_network_hosts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<SetNetworkHosts>,
) -> ApiResult<Json<NetworkHostsView>> {
    let name = network_name(&name)?;
    let chosen = match (req.all, req.hosts) {
        (true, None) => None,
        (false, Some(hosts)) => Some(
            hosts
                .iter()
                .map(|h| HostId::parse("hosts", h))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid field hosts: give either \"all\": true or a list of host ids",
            ));
        }
    };
    let members = state
        .store
        .set_network_hosts(&caller.tenant, name, chosen.as_deref())
        .await?;
    tracing::info!(tenant = %caller.tenant, network = %name, all = members.all, hosts = members.blocks.len(), "network's hosts set");
    Ok(Json(network_hosts_view(name, members)))
}

pub async fn list_hosts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Vec<HostView>>> {
    let ctx = HostContext::load(&state, &caller.tenant).await?;
    let hosts = state.store.list_hosts(&caller.tenant).await?;
    Ok(Json(
        hosts
            .into_iter()
            .map(|h| host_view(h, &ctx, (state.clock)()))
            .collect(),
    ))
}

pub async fn get_host(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<HostView>> {
    let id = host_id(&id)?;
    let host = state
        .store
        .host(&id)
        .await?
        .filter(|h| h.tenant == caller.tenant && h.revoked_at.is_none())
        .ok_or_else(|| ApiError::not_found("host", id.as_str()))?;
    let ctx = HostContext::load(&state, &caller.tenant).await?;
    Ok(Json(host_view(host, &ctx, (state.clock)())))
}

pub async fn delete_host(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = host_id(&id)?;
    state
        .store
        .delete_host(&caller.tenant, &id, (state.clock)())
        .await?;
    tracing::info!(tenant = %caller.tenant, host = %id, "host deleted, its certificate revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests;
