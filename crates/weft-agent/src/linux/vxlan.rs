//! A VXLAN network's VXLAN device on the host: made (or made again when
//! its VNI, port, local address or underlay differ), marked, put on the
//! network's bridge, and its flooding entries kept to the network's VTEPs.

use super::{LinuxDataplane, err, find_link};
use crate::dataplane::{DataplaneError, DpResult, VxlanPlan};
use std::net::IpAddr;
use weft_model::naming::network_alias;
use weft_net::{FLOOD_MAC, Netlink, VxlanConfig};

/// Make the VXLAN device of network `network` match `vx`, as a port of the
/// bridge with index `bridge`.
pub(super) fn ensure(
    dp: &LinuxDataplane,
    network: &str,
    bridge: u32,
    vx: &VxlanPlan,
) -> DpResult<()> {
    let ifname = &vx.ifname;
    let alias = network_alias(network);
    let mut nl = dp.host();
    let link = match &vx.underlay {
        Some(underlay) => Some(find_link(&mut nl, underlay)?.index),
        None => None,
    };
    let config = VxlanConfig {
        vni: vx.vni,
        port: vx.port,
        local: vx.local,
        link,
    };
    let existing = nl
        .link_by_name(ifname)
        .map_err(err(format!("find {ifname}")))?;
    if let Some(found) = existing {
        let ours = found.alias.as_deref() == Some(alias.as_str())
            // Made, but not yet marked, when weft died.
            || (found.kind.as_deref() == Some("vxlan")
                && found.alias.is_none()
                && !found.up
                && found.master.is_none());
        if !ours {
            return Err(DataplaneError::new(
                format!("create {ifname}"),
                std::io::Error::other(format!(
                    "an interface of that name exists and is not weft's (alias {:?})",
                    found.alias.unwrap_or_default()
                )),
            ));
        }
        let current = nl
            .vxlan_config(found.index)
            .map_err(err(format!("inspect {ifname}")))?;
        if current.as_ref() != Some(&config) {
            // The kernel changes none of these on a live device.
            tracing::info!(%ifname, ?current, want = ?config, "VXLAN device differs: made again");
            nl.delete_link(found.index)
                .map_err(err(format!("delete {ifname}")))?;
            create(&mut nl, ifname, &config)?;
        }
    } else {
        create(&mut nl, ifname, &config)?;
    }
    let device = find_link(&mut nl, ifname)?;
    let ctx = |what: &str| format!("{what} {ifname}");
    nl.set_alias(device.index, &alias)
        .map_err(err(ctx("set alias of")))?;
    nl.set_mtu(device.index, vx.mtu)
        .map_err(err(ctx("set MTU of")))?;
    if device.master != Some(bridge) {
        nl.set_master(device.index, Some(bridge))
            .map_err(err(ctx("put on its bridge")))?;
    }
    nl.set_up(device.index).map_err(err(ctx("bring up")))?;
    sync_fdb(&mut nl, ifname, device.index, &vx.remotes)
}

fn create(nl: &mut Netlink, ifname: &str, config: &VxlanConfig) -> DpResult<()> {
    nl.create_vxlan(ifname, config)
        .map_err(err(format!("create VXLAN device {ifname}")))
}

/// The flooding entries of the device, exactly one per remote.
pub(super) fn sync_fdb(
    nl: &mut Netlink,
    ifname: &str,
    index: u32,
    remotes: &[IpAddr],
) -> DpResult<()> {
    let have: Vec<IpAddr> = flooding(nl, ifname, index)?;
    for remote in remotes.iter().filter(|r| !have.contains(r)) {
        nl.fdb_append(index, *remote)
            .map_err(err(format!("add VTEP {remote} to {ifname}")))?;
    }
    for stale in have.iter().filter(|h| !remotes.contains(h)) {
        nl.fdb_delete(index, *stale)
            .map_err(err(format!("remove VTEP {stale} from {ifname}")))?;
        tracing::info!(%ifname, vtep = %stale, "stale FDB entry removed");
    }
    Ok(())
}

/// The remotes the device floods to now.
pub(super) fn flooding(nl: &mut Netlink, ifname: &str, index: u32) -> DpResult<Vec<IpAddr>> {
    Ok(nl
        .fdb_entries(index)
        .map_err(err(format!("list the FDB of {ifname}")))?
        .into_iter()
        .filter(|e| e.mac == FLOOD_MAC)
        .map(|e| e.dst)
        .collect())
}

/// Set the flooding entries of VXLAN device `ifname`, found by name.
pub(super) fn set_fdb(dp: &LinuxDataplane, ifname: &str, remotes: &[IpAddr]) -> DpResult<()> {
    let mut nl = dp.host();
    let device = find_link(&mut nl, ifname)?;
    sync_fdb(&mut nl, ifname, device.index, remotes)
}
