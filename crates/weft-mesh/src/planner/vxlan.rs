//! VXLAN networks in the plan: every host of the file is a tunnel
//! endpoint of every other, at its underlay address, or at its address on
//! the WireGuard network the segment runs `over`.

use crate::error::PlanError;
use crate::observed::NetworkState;
use crate::plan::{HostNetworkPlan, VtepPlan, VxlanNetworkPlan};
use crate::schema::NetworkSpec;
use crate::validate::ValidMesh;
use crate::values::Address;
use ipnet::IpNet;
use weft_model::Mode;
use weft_model::naming::host_address;

/// What a VXLAN network is, mesh-wide (None for other networks).
pub(super) fn network_plan(net: &NetworkSpec) -> Option<VxlanNetworkPlan> {
    (net.mode == Mode::Vxlan).then(|| VxlanNetworkPlan {
        vni: net
            .vni
            .expect("validation requires a VNI on vxlan networks"),
        over: net.over.as_ref().map(ToString::to_string),
    })
}

/// `[host][network]` → the other hosts as VTEPs (empty for other modes).
pub(super) fn vteps(
    mesh: &ValidMesh,
    blocks: &[Vec<IpNet>],
    endpoints: &[Option<Address>],
) -> Result<Vec<Vec<Vec<VtepPlan>>>, PlanError> {
    let hosts = mesh.hosts.len();
    let mut all = vec![vec![Vec::new(); mesh.networks.len()]; hosts];
    for (n, net) in mesh.networks.iter().enumerate() {
        if net.mode != Mode::Vxlan {
            continue;
        }
        let carrier = net
            .over
            .as_ref()
            .map(|over| mesh.networks.iter().position(|o| o.name == *over));
        for o in 0..hosts {
            let address = match carrier {
                Some(Some(c)) => host_address(&blocks[c][o]),
                Some(None) => unreachable!("validation checks that `over` names a network"),
                None => match &endpoints[o] {
                    Some(Address::Ip(ip)) => *ip,
                    // A one-host mesh has no other host to need it.
                    None if hosts == 1 => continue,
                    other => {
                        return Err(PlanError::VtepNotAnAddress {
                            network: net.name.to_string(),
                            host: mesh.hosts[o].name.to_string(),
                            endpoint: other.as_ref().map_or("(none)".into(), ToString::to_string),
                        });
                    }
                },
            };
            let vtep = VtepPlan {
                host: mesh.hosts[o].name.to_string(),
                address,
                block: blocks[n][o],
            };
            for (me, host) in all.iter_mut().enumerate() {
                if me != o {
                    host[n].push(vtep.clone());
                }
            }
        }
    }
    Ok(all)
}

/// Can the agent's network stay for this plan? The same segment (VNI and
/// carrier) and the same block; anything else is made anew.
pub(super) fn fits(state: &NetworkState, want: &HostNetworkPlan, vx: &VxlanNetworkPlan) -> bool {
    state.mode == "vxlan"
        && state.subnet == want.subnet
        && state.block == want.block
        && state.vni == Some(vx.vni)
        && state.over == vx.over
        && state
            .internal
            .is_none_or(|internal| internal == want.internal)
}

#[cfg(test)]
mod tests;
