//! The NICs of the control plane's VMs on this host (`POST /v1/vms`):
//! each one made by [`Agent::attach`] exactly as `weft attach NETWORK
//! --vm ID` makes it (its TAP named and its MAC derived in
//! `weft_model::naming`, an address of the host's block, DHCP, the
//! firewall's pinning), and removed by [`Agent::detach`].
//!
//! Only NICs the control plane asked for are ever detached here: those in
//! the state before (`before`) and no longer wanted. A VM attached by
//! hand (`weft attach --vm`), even on a managed network, stays.
//!
//! Order of effects: NICs that go are detached before networks are
//! removed (a network with attachments is not), NICs that come are
//! attached after networks are made, in each VM's guest order.

use crate::agent::Agent;
use crate::attachments::{AttachmentSpec, VmNicSpec};
use crate::dataplane::Dataplane;
use std::collections::BTreeSet;
use std::net::IpAddr;
use weft_model::error::chain;
use weft_model::names::{WorkloadId, WorkloadName};
use weft_proto::control as pb;
use weft_proto::desired::Desired;

/// (network, VM id) of every NIC `state` asks for.
fn nics_of(state: &Desired) -> BTreeSet<(String, String)> {
    (state.values())
        .flat_map(|net| (net.vm_nics.iter()).map(|n| (net.name.clone(), n.vm.clone())))
        .collect()
}

/// Detach the NICs `before` asked for that `want` no longer does.
pub fn detach_gone<D: Dataplane>(
    agent: &mut Agent<D>,
    want: &Desired,
    before: &Desired,
) -> Vec<String> {
    let wanted = nics_of(want);
    let mut errors = Vec::new();
    for (network, vm) in nics_of(before).difference(&wanted) {
        match agent.detach(network, vm) {
            Ok(true) => {
                tracing::info!(%network, %vm, "VM NIC detached: the control plane no longer wants it")
            }
            Ok(false) => {}
            // Its network went already (with it, the NIC).
            Err(crate::error::AgentError::NotFound { .. }) => {}
            Err(err) => errors.push(format!("detach VM {vm} from {network}: {}", chain(&err))),
        }
    }
    errors
}

/// Attach the NICs `want` asks for that this host does not have, each
/// VM's in its guest order.
pub fn attach_wanted<D: Dataplane>(agent: &mut Agent<D>, want: &Desired) -> Vec<String> {
    let mut todo: Vec<(&pb::DesiredVmNic, &str)> = (want.values())
        .flat_map(|net| net.vm_nics.iter().map(|n| (n, net.name.as_str())))
        .collect();
    todo.sort_by(|(a, _), (b, _)| (&a.vm, a.index).cmp(&(&b.vm, b.index)));
    let mut errors = Vec::new();
    for (nic, network) in todo {
        if let Err(err) = attach_one(agent, network, nic) {
            errors.push(format!("attach VM {} to {network}: {err}", nic.vm));
        }
    }
    errors
}

fn attach_one<D: Dataplane>(
    agent: &mut Agent<D>,
    network: &str,
    nic: &pb::DesiredVmNic,
) -> Result<(), String> {
    let have = agent.attachments(Some(network)).map_err(|e| chain(&e))?;
    if have.iter().any(|a| a.record.workload_id == nic.vm) {
        return Ok(());
    }
    let ip = match nic.ip.as_str() {
        "" => None,
        text => {
            Some((text.parse::<IpAddr>()).map_err(|_| format!("address {text:?} is malformed"))?)
        }
    };
    let spec = AttachmentSpec {
        network: network.to_string(),
        netns: String::new(),
        id: WorkloadId::new(&nic.vm).map_err(|e| e.to_string())?,
        name: Some(WorkloadName::new(&nic.vm).map_err(|e| e.to_string())?),
        ifname: None,
        ip,
        vm: Some(VmNicSpec {
            tap: None,
            queues: 1,
        }),
    };
    let view = agent.attach(spec).map_err(|e| chain(&e))?;
    tracing::info!(%network, vm = %nic.vm, tap = %view.record.host_ifname, ifname = %view.record.ifname, address = %view.address, "VM NIC made for the control plane");
    Ok(())
}

/// What this host made of the NICs `want` asks for, as it reports them.
pub fn report<D: Dataplane>(agent: &Agent<D>, want: &Desired) -> Vec<pb::VmNicReport> {
    let wanted = nics_of(want);
    let mut out = Vec::new();
    for network in want.keys() {
        let Ok(views) = agent.attachments(Some(network)) else {
            continue;
        };
        for v in views {
            let key = (v.record.network.clone(), v.record.workload_id.clone());
            let Some(nic) = v.record.vm.filter(|_| wanted.contains(&key)) else {
                continue;
            };
            out.push(pb::VmNicReport {
                vm: v.record.workload_id.clone(),
                network: v.record.network.clone(),
                ifname: v.record.ifname.clone(),
                tap: v.record.host_ifname.clone(),
                mac: weft_model::naming::format_mac(nic.mac),
                address: v.address.to_string(),
                gateway: v.gateway.to_string(),
                subnet: v.subnet.to_string(),
                mtu: v.mtu,
                dns: vec![v.nameserver.to_string()],
                domain: v.domain.clone(),
                default_route: v.record.default_route,
                queues: u32::from(nic.queues),
                run: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
