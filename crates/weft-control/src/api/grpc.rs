//! The tenant API over gRPC (`TenantControl`, on the gRPC port beside
//! the agents' services, API keys in metadata, no client certificate): the
//! REST API's operations as a plan of steps, and its status, under the
//! same policies. [`methods`] is this service's route table: a method
//! absent from it is refused, and the authorization tests (`grpc/tests.rs`,
//! against the running port) walk the proto's methods against it, as
//! `api/tests.rs` walks [`super::routes`]. [`service`] is what the port
//! serves.

use super::body::MAX_BODY;
use super::error::ApiError;
use super::{AppState, Caller, Policy, authenticate};
use crate::model::{HostId, NetworkSpec};
use axum::http::StatusCode;
use tonic::{Request, Response, Status};
use weft_proto::control as pb;
use weft_proto::control::plan_step::Step;
use weft_proto::control::tenant_control_server::TenantControlServer;

const SERVICE: &str = "/weft.control.v1.TenantControl/";

/// `TenantControl` for the gRPC port: requests as large as REST bodies.
pub fn service(state: AppState) -> TenantControlServer<TenantControlService> {
    TenantControlServer::new(TenantControlService(state)).max_decoding_message_size(MAX_BODY)
}

/// Every method of `TenantControl`, with who may call it.
pub fn methods() -> Vec<(String, Policy)> {
    ["ApplyPlan", "GetStatus"]
        .into_iter()
        .map(|m| (format!("{SERVICE}{m}"), Policy::Tenant))
        .collect()
}

/// An [`ApiError`] as a gRPC status, with the same message.
fn status(err: ApiError) -> Status {
    let code = match err.status {
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => tonic::Code::InvalidArgument,
        StatusCode::UNAUTHORIZED => tonic::Code::Unauthenticated,
        StatusCode::NOT_FOUND => tonic::Code::NotFound,
        StatusCode::CONFLICT => tonic::Code::AlreadyExists,
        _ => tonic::Code::Internal,
    };
    Status::new(code, err.message)
}

pub struct TenantControlService(pub AppState);

impl TenantControlService {
    /// The tenant calling `method`, as its policy in [`methods`] wants.
    async fn caller<T>(&self, req: &Request<T>, method: &str) -> Result<Caller, Status> {
        let path = format!("{SERVICE}{method}");
        match methods().into_iter().find(|(p, _)| *p == path) {
            Some((_, Policy::Tenant)) => {
                let headers = req.metadata().clone().into_headers();
                authenticate(&self.0, &headers).await.map_err(status)
            }
            Some((_, Policy::Public)) | None => Err(Status::permission_denied(format!(
                "{method} has no tenant policy"
            ))),
        }
    }
}

/// A step checked, before any runs.
enum Checked {
    CreateNetwork(NetworkSpec),
    DeleteNetwork(String),
    SetNetworkHosts(String, Option<Vec<HostId>>),
    DeleteHost(HostId),
}

fn check(step: Option<Step>) -> Result<Checked, ApiError> {
    let bad = |msg: String| ApiError::new(StatusCode::BAD_REQUEST, msg);
    match step {
        None => Err(bad("step: empty (give one of its kinds)".into())),
        Some(Step::CreateNetwork(n)) => {
            let prefix = n
                .block_prefix
                .map(|p| u8::try_from(p).map_err(|_| bad(format!("block_prefix: {p}: too large"))))
                .transpose()?;
            let spec =
                NetworkSpec::new(&n.name, &n.subnet, &n.mode, n.internal, &n.domain, prefix)?;
            Ok(Checked::CreateNetwork(spec))
        }
        Some(Step::DeleteNetwork(name)) => {
            weft_model::names::validate_network_name(&name)?;
            Ok(Checked::DeleteNetwork(name))
        }
        Some(Step::SetNetworkHosts(h)) => {
            weft_model::names::validate_network_name(&h.network)?;
            let chosen = match (h.all, h.hosts.is_empty()) {
                (true, true) => None,
                (true, false) => {
                    return Err(bad(
                        "invalid field hosts: give either all or a list of host ids".into(),
                    ));
                }
                (false, _) => Some(
                    h.hosts
                        .iter()
                        .map(|id| HostId::parse("hosts", id))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            Ok(Checked::SetNetworkHosts(h.network, chosen))
        }
        Some(Step::DeleteHost(id)) => Ok(Checked::DeleteHost(HostId::parse("delete_host", &id)?)),
    }
}

/// Run one checked step for `caller`, as its REST route does.
async fn apply(state: &AppState, caller: &Caller, step: Checked) -> Result<(), ApiError> {
    let (store, t, now) = (&state.store, &caller.tenant, (state.clock)());
    match step {
        Checked::CreateNetwork(spec) => {
            let net = store.create_network(t, &spec, now).await?;
            tracing::info!(tenant = %t, network = %net.spec.name, subnet = %net.spec.subnet, "network created");
        }
        Checked::DeleteNetwork(name) => {
            store.delete_network(t, &name).await?;
            tracing::info!(tenant = %t, network = %name, "network deleted");
        }
        Checked::SetNetworkHosts(name, chosen) => {
            let got = store.set_network_hosts(t, &name, chosen.as_deref()).await?;
            tracing::info!(tenant = %t, network = %name, all = got.all, hosts = got.blocks.len(), "network's hosts set");
        }
        Checked::DeleteHost(id) => {
            store.delete_host(t, &id, now).await?;
            tracing::info!(tenant = %t, host = %id, "host deleted, its certificate revoked");
        }
    }
    Ok(())
}

fn block_status(b: &crate::model::HostBlock) -> pb::BlockStatus {
    pb::BlockStatus {
        host: b.host.to_string(),
        network: b.network.clone(),
        block: b.block.to_string(),
    }
}

#[tonic::async_trait]
impl pb::tenant_control_server::TenantControl for TenantControlService {
    async fn apply_plan(
        &self,
        req: Request<pb::ApplyPlanRequest>,
    ) -> Result<Response<pb::ApplyPlanResponse>, Status> {
        let caller = self.caller(&req, "ApplyPlan").await?;
        let mut steps = Vec::new();
        for (i, step) in req.into_inner().steps.into_iter().enumerate() {
            let checked = check(step.step)
                .map_err(|e| Status::invalid_argument(format!("steps[{i}]: {}", e.message)))?;
            steps.push(checked);
        }
        for (i, step) in steps.into_iter().enumerate() {
            apply(&self.0, &caller, step).await.map_err(|e| {
                status(ApiError::new(
                    e.status,
                    format!("steps[{i}]: {}", e.message),
                ))
            })?;
        }
        let revision = self
            .0
            .store
            .revision()
            .await
            .map_err(|e| status(e.into()))?;
        Ok(Response::new(pb::ApplyPlanResponse { revision }))
    }

    async fn get_status(
        &self,
        req: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::TenantStatus>, Status> {
        let caller = self.caller(&req, "GetStatus").await?;
        let (store, t) = (&self.0.store, &caller.tenant);
        let api = |e: crate::store::StoreError| status(e.into());
        let revision = store.revision().await.map_err(api)?;
        let blocks = store.blocks(t).await.map_err(api)?;
        let mut networks = Vec::new();
        for net in store.list_networks(t).await.map_err(api)? {
            let members = store.network_hosts(t, &net.spec.name).await.map_err(api)?;
            let spec = net.spec;
            networks.push(pb::TenantNetwork {
                subnet: spec.subnet.to_string(),
                mode: spec.mode.as_str().into(),
                internal: spec.internal,
                domain: spec.domain,
                block_prefix: spec.block_prefix.into(),
                all_hosts: members.all,
                blocks: members.blocks.iter().map(block_status).collect(),
                name: spec.name,
            });
        }
        let now = (self.0.clock)();
        let hosts = store
            .list_hosts(t)
            .await
            .map_err(api)?
            .into_iter()
            .map(|h| pb::TenantHost {
                state: super::handlers::host_state(h.last_seen, now).into(),
                blocks: blocks
                    .iter()
                    .filter(|b| b.host == h.id)
                    .map(block_status)
                    .collect(),
                id: h.id.to_string(),
                name: h.name,
                endpoint: h.endpoint.unwrap_or_default(),
                version: h.version.unwrap_or_default(),
                last_seen: h.last_seen.unwrap_or(0),
            })
            .collect();
        Ok(Response::new(pb::TenantStatus {
            tenant: t.to_string(),
            revision,
            networks,
            hosts,
        }))
    }
}

#[cfg(test)]
mod tests;
