//! VMs and their NICs: a tenant places a VM on one of its hosts with a
//! NIC per network, attaches and detaches NICs one at a time, and reads
//! back what the host made (TAP, MAC, address, as its agent reported
//! them) with the hypervisors' configuration `weft vm config` prints
//! (`weft_model::vm::VmConfig`, one definition for both).

use super::body::JsonBody;
use super::error::{ApiError, ApiResult};
use super::{AppState, Caller};
use crate::model::{
    HostId, ReportedNic, RunReport, RunRequest, Vm, VmError, VmNicSpec, VmRun, VmSpec,
    validate_vm_id,
};
use crate::store::VmChange;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use weft_model::vm::VmConfig;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NicRequest {
    network: String,
    #[serde(default)]
    ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVm {
    id: String,
    /// The host's id or name.
    host: String,
    #[serde(default)]
    nics: Vec<NicRequest>,
    /// Have the host run the VM (else only its NICs are made).
    #[serde(default)]
    run: Option<RunRequest>,
}

#[derive(Serialize)]
pub struct NicView {
    network: String,
    /// The address asked for (`None`: the lowest free of the host's block).
    ip: Option<IpAddr>,
    /// `made` once the host reported it, else `pending`.
    state: &'static str,
    ifname: Option<String>,
    tap: Option<String>,
    mac: Option<String>,
    /// The guest's address with its prefix.
    address: Option<String>,
}

#[derive(Serialize)]
pub struct VmView {
    id: String,
    host: HostId,
    host_name: Option<String>,
    created_at: i64,
    nics: Vec<NicView>,
    /// Each hypervisor's NIC configuration and the guest's, once the host
    /// made every NIC (`None` until then).
    config: Option<VmConfig>,
    /// How the host runs it, when it does.
    run: Option<RunView>,
}

/// `run` as asked, and as the host reports it (`state` `pending` until
/// it does: starting, running, exited N, killed by signal N, failed).
#[derive(Serialize)]
pub struct RunView {
    #[serde(flatten)]
    asked: VmRun,
    state: String,
    /// The hypervisor started (auto's choice, or the named one).
    chosen: Option<String>,
    /// Why that one (every hypervisor's reason, for auto).
    why: Option<String>,
    error: Option<String>,
}

fn run_view(asked: VmRun, report: Option<&RunReport>) -> RunView {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    RunView {
        asked,
        state: report.map_or_else(|| "pending".into(), |r| r.state.clone()),
        chosen: report.and_then(|r| some(&r.hypervisor)),
        why: report.and_then(|r| some(&r.why)),
        error: report.and_then(|r| some(&r.error)),
    }
}

/// `vm`'s view with what its host reported (`reported`: the tenant's).
fn vm_view(vm: Vm, host_name: Option<String>, reported: &[(HostId, ReportedNic)]) -> VmView {
    let made = |network: &str| {
        (reported.iter())
            .find(|(h, r)| *h == vm.spec.host && r.vm == vm.spec.id && r.network == network)
            .map(|(_, r)| r)
    };
    let mut guest: Vec<weft_model::vm::GuestNic> = Vec::new();
    let mut all_made = true;
    let nics = (vm.spec.nics.iter())
        .map(|nic| {
            let got = made(&nic.network);
            match got.and_then(ReportedNic::guest) {
                Some(g) => guest.push(g),
                None => all_made = false,
            }
            NicView {
                network: nic.network.clone(),
                ip: nic.ip,
                state: if got.is_some() { "made" } else { "pending" },
                ifname: got.map(|r| r.ifname.clone()),
                tap: got.map(|r| r.tap.clone()),
                mac: got.map(|r| r.mac.clone()),
                address: got.map(|r| r.address.to_string()),
            }
        })
        .collect();
    guest.sort_by_key(|g| weft_model::naming::nic_index(&g.ifname).unwrap_or(u32::MAX));
    let config = (all_made && !guest.is_empty()).then(|| VmConfig::new(&guest, &vm.spec.id));
    let report = (reported.iter())
        .filter(|(h, r)| *h == vm.spec.host && r.vm == vm.spec.id)
        .find_map(|(_, r)| r.run.as_ref());
    let run = vm.spec.run.map(|asked| run_view(asked, report));
    VmView {
        id: vm.spec.id,
        host: vm.spec.host,
        host_name,
        created_at: vm.created_at,
        nics,
        config,
        run,
    }
}

/// A VM's id from the path; a malformed one names no VM.
fn vm_id(text: &str) -> ApiResult<&str> {
    validate_vm_id(text)
        .map(|()| text)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "VM not found"))
}

fn nic_spec(field: &str, req: &NicRequest) -> Result<VmNicSpec, VmError> {
    VmNicSpec::new(field, &req.network, req.ip.as_deref())
}

/// The views of `vms` (the caller's), with their hosts' names and reports.
async fn views(state: &AppState, caller: &Caller, vms: Vec<Vm>) -> ApiResult<Vec<VmView>> {
    let hosts = state.store.list_hosts(&caller.tenant).await?;
    let reported = state.store.reported_vm_nics(&caller.tenant).await?;
    Ok(vms
        .into_iter()
        .map(|vm| {
            let name = (hosts.iter().find(|h| h.id == vm.spec.host)).map(|h| h.name.clone());
            vm_view(vm, name, &reported)
        })
        .collect())
}

async fn one_view(state: &AppState, caller: &Caller, vm: Vm) -> ApiResult<VmView> {
    let mut list = views(state, caller, vec![vm]).await?;
    list.pop()
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}

/// Apply `change`; the VM as it is after it (`None`: deleted).
async fn change(state: &AppState, caller: &Caller, change: VmChange) -> ApiResult<Option<Vm>> {
    let what = format!("{change:?}");
    let vm = state
        .store
        .change_vm(&caller.tenant, change, (state.clock)())
        .await?;
    tracing::info!(tenant = %caller.tenant, change = %what, "VM changed");
    Ok(vm)
}

fn changed(vm: Option<Vm>) -> ApiResult<Vm> {
    vm.ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(req): JsonBody<CreateVm>,
) -> ApiResult<(StatusCode, Json<VmView>)> {
    let nics = (req.nics.iter().enumerate())
        .map(|(n, nic)| nic_spec(&format!("nics[{n}]"), nic))
        .collect::<Result<Vec<_>, _>>()?;
    // The host by id, or by name among the tenant's live hosts.
    let hosts = state.store.list_hosts(&caller.tenant).await?;
    let host = (hosts.iter())
        .find(|h| h.id.as_str() == req.host || h.name == req.host)
        .map(|h| h.id.clone())
        .ok_or_else(|| {
            VmError::new(
                "host",
                &req.host,
                "not a live host of this tenant (id or name)",
            )
        })?;
    let run = req.run.as_ref().map(RunRequest::check).transpose()?;
    let spec = VmSpec::new(&req.id, host, nics)?.with_run(run)?;
    let vm = changed(change(&state, &caller, VmChange::Create(spec)).await?)?;
    Ok((
        StatusCode::CREATED,
        Json(one_view(&state, &caller, vm).await?),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Vec<VmView>>> {
    let vms = state.store.list_vms(&caller.tenant).await?;
    Ok(Json(views(&state, &caller, vms).await?))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<VmView>> {
    let id = vm_id(&id)?;
    let vms = state.store.list_vms(&caller.tenant).await?;
    let vm =
        (vms.into_iter().find(|v| v.spec.id == id)).ok_or_else(|| ApiError::not_found("VM", id))?;
    Ok(Json(one_view(&state, &caller, vm).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let vm = vm_id(&id)?.to_string();
    change(&state, &caller, VmChange::Delete { vm }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn attach(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NicRequest>,
) -> ApiResult<(StatusCode, Json<VmView>)> {
    let vm = vm_id(&id)?.to_string();
    // The field names this request's own (`network`, `ip`).
    let nic = nic_spec("", &req).map_err(|mut e| {
        e.field = e.field.trim_start_matches('.').to_string();
        e
    })?;
    let vm = changed(change(&state, &caller, VmChange::Attach { vm, nic }).await?)?;
    Ok((
        StatusCode::CREATED,
        Json(one_view(&state, &caller, vm).await?),
    ))
}

pub async fn detach(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, network)): Path<(String, String)>,
) -> ApiResult<Json<VmView>> {
    let vm = vm_id(&id)?.to_string();
    weft_model::names::validate_network_name(&network)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "NIC not found"))?;
    let vm = changed(change(&state, &caller, VmChange::Detach { vm, network }).await?)?;
    Ok(Json(one_view(&state, &caller, vm).await?))
}
