//! A network's interface on the host: the WireGuard device or the bridge
//! (with a VXLAN network's VXLAN device, see `vxlan.rs`), its alias,
//! address, MTU and route — made, checked and removed.

use super::{
    LinuxDataplane, ensure_address, err, find_link, gone_is_fine, has_address, replace_host_route,
    wg_err,
};
use crate::dataplane::{DataplaneError, DpResult, NetworkKind, NetworkPlan, TUNNEL_MTU};
use weft_model::naming::{ALIAS_PREFIX, network_alias};
use weft_net::Route;
use weft_wg::{BackendKind, DeviceConfig, PeerConfig};

pub(super) fn ensure(dp: &LinuxDataplane, plan: &NetworkPlan) -> DpResult<()> {
    let ifname = &plan.ifname;
    // Never take over an interface that is someone else's.
    let existing = dp
        .host()
        .link_by_name(ifname)
        .map_err(err(format!("find {ifname}")))?;
    if let Some(link) = existing
        && link.alias.as_deref() != Some(network_alias(&plan.name).as_str())
        // Our own engine's TUN is ours whatever its alias.
        && !(dp.wg.kind() == BackendKind::Userspace && dp.wg.exists(ifname))
        && !is_unfinished(dp, &link, plan)?
    {
        return Err(DataplaneError::new(
            format!("create {ifname}"),
            std::io::Error::other(format!(
                "an interface of that name exists and is not weft's (alias {:?})",
                link.alias.unwrap_or_default()
            )),
        ));
    }
    match &plan.kind {
        NetworkKind::Wireguard {
            private_key,
            retiring_key,
            listen_port,
            peers,
        } => {
            if !dp.wg.exists(ifname) {
                dp.wg.create(ifname).map_err(wg_err)?;
            }
            let device = DeviceConfig {
                private_key: Some(private_key.clone()),
                retiring_key: Some(retiring_key.clone()),
                listen_port: Some(*listen_port),
                ..Default::default()
            };
            dp.wg.configure(ifname, &device).map_err(wg_err)?;
            sync_peers(dp, ifname, peers)?;
        }
        NetworkKind::Bridge | NetworkKind::Vxlan(_) => {
            let mut nl = dp.host();
            if nl
                .link_by_name(ifname)
                .map_err(err(format!("find {ifname}")))?
                .is_none()
            {
                nl.create_bridge(ifname)
                    .map_err(err(format!("create bridge {ifname}")))?;
            }
        }
    }
    let mut nl = dp.host();
    let link = find_link(&mut nl, ifname)?;
    let ctx = |what: &str| format!("{what} {ifname}");
    nl.set_alias(link.index, &network_alias(&plan.name))
        .map_err(err(ctx("set alias of")))?;
    ensure_address(&mut nl, link.index, plan.address)
        .map_err(err(format!("add {} to {ifname}", plan.address)))?;
    match &plan.kind {
        NetworkKind::Wireguard { .. } => nl
            .set_mtu(link.index, TUNNEL_MTU)
            .map_err(err(ctx("set MTU of")))?,
        NetworkKind::Vxlan(vx) => {
            // The host's own address first: the primary one, the source of
            // what the host sends on the segment.
            ensure_address(&mut nl, link.index, vx.gateway)
                .map_err(err(format!("add {} to {ifname}", vx.gateway)))?;
            drop(nl);
            super::vxlan::ensure(dp, &plan.name, link.index, vx)?;
            nl = dp.host();
            nl.set_mtu(link.index, vx.mtu)
                .map_err(err(ctx("set MTU of")))?;
        }
        NetworkKind::Bridge => {}
    }
    nl.set_up(link.index).map_err(err(ctx("bring up")))?;
    if let NetworkKind::Wireguard { .. } = plan.kind {
        // A bridge's address brings its subnet route; a /32 does not.
        let route = Route::link(plan.subnet, link.index).with_src(plan.address.addr());
        replace_host_route(&mut nl, &route)
            .map_err(err(format!("route {} via {ifname}", plan.subnet)))?;
    }
    drop(nl);
    weft_net::set_sysctl(&dp.host_ns, "net/ipv4/ip_forward", "1")
        .map_err(err("enable IPv4 forwarding"))?;
    Ok(())
}

pub(super) fn present(dp: &LinuxDataplane, plan: &NetworkPlan) -> DpResult<bool> {
    let mut nl = dp.host();
    let Some(link) = nl
        .link_by_name(&plan.ifname)
        .map_err(err(format!("find {}", plan.ifname)))?
    else {
        return Ok(false);
    };
    let bridge_ok = link.up
        && has_address(&mut nl, link.index, plan.address)
            .map_err(err(format!("inspect {}", plan.ifname)))?;
    // A VXLAN network also needs its device, up, on the bridge.
    let NetworkKind::Vxlan(vx) = &plan.kind else {
        return Ok(bridge_ok);
    };
    let device = nl
        .link_by_name(&vx.ifname)
        .map_err(err(format!("find {}", vx.ifname)))?;
    Ok(bridge_ok && device.is_some_and(|d| d.up && d.master == Some(link.index)))
}

pub(super) fn remove(dp: &LinuxDataplane, plan: &NetworkPlan) -> DpResult<()> {
    let ifname = plan.ifname.as_str();
    // The userspace engine's device is ours by being in the engine. A
    // kernel device of the name is only a link like any other: someone
    // may have taken the name since (wg-quick's default is wg0 too).
    if dp.wg.kind() == BackendKind::Userspace && dp.wg.exists(ifname) {
        dp.wg.delete(ifname).map_err(wg_err)?;
    }
    // A VXLAN device goes first: it takes its FDB entries with it.
    if let NetworkKind::Vxlan(vx) = &plan.kind {
        remove_link(dp, &vx.ifname, &["vxlan"])?;
    }
    remove_link(dp, ifname, &["wireguard", "bridge"])
}

/// Delete link `ifname` of the host if it is weft's (see
/// [`removable_network_link`]); a bare one must be of one of `kinds`.
fn remove_link(dp: &LinuxDataplane, ifname: &str, kinds: &[&str]) -> DpResult<()> {
    let mut nl = dp.host();
    let Some(link) = nl
        .link_by_name(ifname)
        .map_err(err(format!("find {ifname}")))?
    else {
        return Ok(());
    };
    let addressed = !nl
        .addresses(Some(link.index))
        .map_err(err(format!("inspect {ifname}")))?
        .is_empty();
    let ported = nl
        .links()
        .map_err(err("list links"))?
        .iter()
        .any(|l| l.master == Some(link.index));
    if !removable_network_link(&link, kinds, addressed, ported) {
        tracing::info!(%ifname, "left in place: the link of that name is not weft's");
        return Ok(());
    }
    gone_is_fine(nl.delete_link(link.index)).map_err(err(format!("delete {ifname}")))
}

/// Whether `network rm` may delete `link`, found under a network's
/// interface name: it carries weft's mark, or it is the bare device a
/// crash between creating and marking it left (as [`ensure`] takes over).
fn removable_network_link(
    link: &weft_net::Link,
    kinds: &[&str],
    addressed: bool,
    ported: bool,
) -> bool {
    let marked = link
        .alias
        .as_deref()
        .is_some_and(|a| a.starts_with(ALIAS_PREFIX));
    marked
        || kinds
            .iter()
            .any(|kind| unfinished_network_link(link, kind, addressed, ported))
}

/// Whether `link`, of the network's recorded name, is the network's
/// interface as a crash right after creating it left it (see
/// [`unfinished_network_link`]).
fn is_unfinished(dp: &LinuxDataplane, link: &weft_net::Link, plan: &NetworkPlan) -> DpResult<bool> {
    let kind = match plan.kind {
        NetworkKind::Bridge | NetworkKind::Vxlan(_) => "bridge",
        NetworkKind::Wireguard { .. } => "wireguard",
    };
    let mut nl = dp.host();
    let addressed = !nl
        .addresses(Some(link.index))
        .map_err(err(format!("inspect {}", link.name)))?
        .is_empty();
    let links = nl.links().map_err(err("list links"))?;
    let ported = links.iter().any(|l| l.master == Some(link.index));
    Ok(unfinished_network_link(link, kind, addressed, ported))
}

/// Bring the device's peers to `peers` without touching peers that stay:
/// replacing them all would drop their sessions.
pub(super) fn sync_peers(dp: &LinuxDataplane, ifname: &str, peers: &[PeerConfig]) -> DpResult<()> {
    let current = dp.wg.get(ifname).map_err(wg_err)?;
    let mut changes: Vec<PeerConfig> = current
        .peers
        .iter()
        .filter(|p| !peers.iter().any(|d| d.public_key == p.public_key))
        .map(|p| {
            let mut remove = PeerConfig::new(p.public_key);
            remove.remove = true;
            remove
        })
        .collect();
    changes.extend(peers.iter().cloned());
    let config = DeviceConfig {
        peers: changes,
        ..Default::default()
    };
    dp.wg.configure(ifname, &config).map_err(wg_err)
}

/// A network interface that weft created but had not yet marked when it
/// died: of the kind the network needs, no alias, down, no addresses, no
/// ports. Anything else under that name (up, addressed, in use) is
/// somebody else's and is never taken over.
fn unfinished_network_link(
    link: &weft_net::Link,
    kind: &str,
    addressed: bool,
    ported: bool,
) -> bool {
    link.kind.as_deref() == Some(kind) && link.alias.is_none() && !link.up && !addressed && !ported
}

#[cfg(test)]
mod tests;
