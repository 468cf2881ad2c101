//! A workload's attachment: the veth pair, both ends configured (alias,
//! MTU, bridge port or host route; address and routes inside the
//! workload's namespace) — made, checked and removed.

use super::{
    LinuxDataplane, ensure_address, err, find_link, gone_is_fine, has_address, replace_host_route,
};
use crate::dataplane::{AttachmentPlan, AttachmentState, Dataplane, DataplaneError, DpResult};
use ipnet::IpNet;
use std::net::IpAddr;
use weft_model::addressing::single;
use weft_net::{Netlink, Netns, NetnsId, Route, WEFT_ROUTE_PROTOCOL};

/// The identity of the namespace at `path`, if there is one.
pub(super) fn netns_id(path: &str) -> Option<NetnsId> {
    Netns::open(std::path::Path::new(path))
        .ok()
        .map(|ns| ns.id())
}

pub(super) fn create(dp: &LinuxDataplane, plan: &AttachmentPlan) -> DpResult<AttachmentState> {
    let ns = Netns::open(std::path::Path::new(&plan.netns))
        .map_err(err(format!("open namespace {}", plan.netns)))?;
    if ns.id() != plan.netns_id {
        return Err(DataplaneError::new(
            format!("open namespace {}", plan.netns),
            std::io::Error::other("the path now names a different namespace"),
        ));
    }
    // The agent checks this first; here it guards every other way in
    // (reconcile, a record from an older version).
    if dp.host_netns_ids.contains(&ns.id()) {
        return Err(DataplaneError::new(
            format!("open namespace {}", plan.netns),
            std::io::Error::other("it is the host's own network namespace"),
        ));
    }
    let host_if = &plan.host_ifname;
    let created = dp.host().create_veth(host_if, &plan.ifname, Some(&ns));
    if let Err(e) = created {
        return Err(veth_refused(&ns, plan, e));
    }
    let result = configure_attachment(&mut dp.host(), &ns, plan);
    if result.is_err() {
        // Deleting one end removes both, and the routes with them.
        let _ = dp.delete_link(host_if);
    }
    result
}

/// Why the veth pair could not be made, said once (weft-net's error names
/// the operation) and, when a name is taken, with what is in the way and
/// the way out.
fn veth_refused(ns: &Netns, plan: &AttachmentPlan, e: weft_net::NetError) -> DataplaneError {
    let context = format!("attach to {}", plan.netns);
    if !e.is_exists() {
        return DataplaneError::new(context, e);
    }
    let inside = Netlink::in_netns(ns)
        .and_then(|mut nl| nl.link_by_name(&plan.ifname))
        .is_ok_and(|link| link.is_some());
    let why = if inside {
        format!(
            "{} is already an interface there (another workload's, or the container runtime's): \
             give this attachment another name (weft attach --ifname; CNI: CNI_IFNAME)",
            plan.ifname
        )
    } else {
        format!(
            "{} already exists on the host: a link of that name is in the way of this \
             workload's host side",
            plan.host_ifname
        )
    };
    DataplaneError::new(context, std::io::Error::other(why))
}

pub(super) fn state(
    dp: &LinuxDataplane,
    plan: &AttachmentPlan,
) -> DpResult<Option<AttachmentState>> {
    let mut host = dp.host();
    let Some(host_link) = host
        .link_by_name(&plan.host_ifname)
        .map_err(err(format!("find {}", plan.host_ifname)))?
    else {
        return Ok(None);
    };
    if host_link.alias.as_deref() != Some(plan.alias().as_str()) || !host_link.up {
        return Ok(None);
    }
    if let Some(bridge) = &plan.bridge {
        let master = host
            .link_by_name(bridge)
            .map_err(err(format!("find {bridge}")))?;
        if master.is_none() || master.map(|m| m.index) != host_link.master {
            return Ok(None);
        }
    }
    drop(host);
    let Ok(ns) = Netns::open(std::path::Path::new(&plan.netns)) else {
        return Ok(None);
    };
    if ns.id() != plan.netns_id {
        return Ok(None);
    }
    let mut nl = Netlink::in_netns(&ns).map_err(err(format!("enter {}", plan.netns)))?;
    let ctx = || format!("inspect {} in {}", plan.ifname, plan.netns);
    let Some(link) = nl.link_by_name(&plan.ifname).map_err(err(ctx()))? else {
        return Ok(None);
    };
    if !link.up || !has_address(&mut nl, link.index, plan.address).map_err(err(ctx()))? {
        return Ok(None);
    }
    // A bridge port is pinned to the derived MAC (one made by an older
    // weft has the kernel's): otherwise it is made again.
    if plan.mac.is_some() && link.mac != plan.mac {
        return Ok(None);
    }
    let routes = nl.routes().map_err(err(ctx()))?;
    let all_routes = workload_routes(plan, link.index).iter().all(|want| {
        routes
            .iter()
            .any(|r| r.dst == want.dst && r.gateway == want.gateway && r.oif == want.oif)
    });
    if !all_routes {
        return Ok(None);
    }
    Ok(Some(AttachmentState {
        mac: link.mac.map(format_mac).unwrap_or_default(),
        host_mac: host_link.mac.map(format_mac).unwrap_or_default(),
    }))
}

pub(super) fn remove(dp: &LinuxDataplane, plan: &AttachmentPlan) -> DpResult<()> {
    let mut nl = dp.host();
    let found = nl
        .link_by_name(&plan.host_ifname)
        .map_err(err(format!("find {}", plan.host_ifname)))?;
    match found {
        // Only ever delete a link that carries this attachment's alias.
        // Or the pair as a crash right after creating it left it: no
        // alias yet, its other end the recorded interface of the
        // recorded namespace.
        Some(link)
            if link.alias.as_deref() == Some(plan.alias().as_str())
                || (link.alias.is_none() && is_unfinished_pair(&link, plan)) =>
        {
            gone_is_fine(nl.delete_link(link.index))
                .map_err(err(format!("delete {}", plan.host_ifname)))
        }
        _ => Ok(()),
    }
}

fn default_route(gateway: IpAddr) -> IpNet {
    if gateway.is_ipv4() {
        "0.0.0.0/0".parse().expect("valid")
    } else {
        "::/0".parse().expect("valid")
    }
}

/// The routes a workload needs inside its namespace. Routed: the host's
/// address is reached over the veth, then everything (first attachment) or
/// the subnet goes via it. Bridged: the subnet is on-link; only the first
/// attachment adds a default route.
fn workload_routes(plan: &AttachmentPlan, index: u32) -> Vec<Route> {
    let mut routes = vec![];
    if plan.bridge.is_none() {
        routes.push(Route::link(single(plan.gateway), index));
    }
    if plan.default_route {
        routes.push(Route::via(
            default_route(plan.gateway),
            plan.gateway,
            Some(index),
        ));
    } else if plan.bridge.is_none() {
        routes.push(Route::via(plan.subnet, plan.gateway, Some(index)));
    }
    routes
}

fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Whether `host_link` is one end of a veth pair whose other end is the
/// attachment's interface in the attachment's namespace: what
/// [`create`] made before it set the alias.
fn is_unfinished_pair(host_link: &weft_net::Link, plan: &AttachmentPlan) -> bool {
    if host_link.kind.as_deref() != Some("veth") {
        return false;
    }
    let Ok(ns) = Netns::open(std::path::Path::new(&plan.netns)) else {
        return false;
    };
    if ns.id() != plan.netns_id {
        return false;
    }
    let Ok(mut nl) = Netlink::in_netns(&ns) else {
        return false;
    };
    match nl.link_by_name(&plan.ifname) {
        Ok(Some(peer)) => {
            peer.kind.as_deref() == Some("veth")
                && peer.peer_index == Some(host_link.index)
                && host_link.peer_index == Some(peer.index)
        }
        _ => false,
    }
}

/// Everything after the veth exists: both ends up, addresses, routes.
fn configure_attachment(
    host: &mut Netlink,
    ns: &Netns,
    plan: &AttachmentPlan,
) -> DpResult<AttachmentState> {
    let host_if = &plan.host_ifname;
    let link = find_link(host, host_if)?;
    host.set_alias(link.index, &plan.alias())
        .map_err(err(format!("set alias of {host_if}")))?;
    host.set_mtu(link.index, plan.mtu)
        .map_err(err(format!("set MTU of {host_if}")))?;
    match &plan.bridge {
        Some(bridge) => {
            let master = find_link(host, bridge)?;
            host.set_master(link.index, Some(master.index))
                .map_err(err(format!("add {host_if} to bridge {bridge}")))?;
            host.set_up(link.index)
                .map_err(err(format!("bring up {host_if}")))?;
        }
        None => {
            host.set_up(link.index)
                .map_err(err(format!("bring up {host_if}")))?;
            replace_host_route(host, &Route::link(single(plan.address.addr()), link.index))
                .map_err(err(format!("route {} via {host_if}", plan.address.addr())))?;
        }
    }

    let ctx = |what: &str| format!("{what} in {}", plan.netns);
    let mut nl = Netlink::in_netns(ns).map_err(err(ctx("open netlink")))?;
    if let Some(lo) = nl.link_by_name("lo").map_err(err(ctx("find lo")))? {
        nl.set_up(lo.index).map_err(err(ctx("bring up lo")))?;
    }
    let inner = nl
        .link_by_name(&plan.ifname)
        .map_err(err(ctx(&format!("find {}", plan.ifname))))?
        .ok_or_else(|| {
            DataplaneError::new(
                ctx(&format!("find {}", plan.ifname)),
                std::io::Error::other("it vanished"),
            )
        })?;
    nl.set_mtu(inner.index, plan.mtu)
        .map_err(err(ctx(&format!("set MTU of {}", plan.ifname))))?;
    if let Some(mac) = plan.mac {
        nl.set_mac(inner.index, mac)
            .map_err(err(ctx(&format!("set MAC of {}", plan.ifname))))?;
    }
    ensure_address(&mut nl, inner.index, plan.address).map_err(err(ctx(&format!(
        "add {} to {}",
        plan.address, plan.ifname
    ))))?;
    nl.set_up(inner.index)
        .map_err(err(ctx(&format!("bring up {}", plan.ifname))))?;
    // Inside the workload too, a route of somebody else's (another
    // plugin's default route) is left alone: the attachment fails instead.
    let ours = |r: &Route| r.protocol == WEFT_ROUTE_PROTOCOL || r.oif == Some(inner.index);
    for route in workload_routes(plan, inner.index) {
        nl.replace_own_route(&route, ours)
            .map_err(err(ctx(&format!("add route {}", route.dst))))?;
    }
    let host_mac = find_link(host, host_if)?
        .mac
        .map(format_mac)
        .unwrap_or_default();
    Ok(AttachmentState {
        // The MAC set above, when weft derives one (bridge ports): `inner`
        // was read before, with the kernel's.
        mac: plan.mac.or(inner.mac).map(format_mac).unwrap_or_default(),
        host_mac,
    })
}
