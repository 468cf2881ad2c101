//! A VM's NIC on the host: a persistent TAP made through `weft-net`, with
//! weft's alias, the network's MTU, and either a port of the network's
//! bridge or (routed) a /32 route to the guest's address — made, checked
//! and removed. The guest's side is the hypervisor's and the guest's own:
//! weft tells it its address by DHCP (see `dhcp.rs`), `ip=` or cloud-init.

use super::{LinuxDataplane, err, find_link, gone_is_fine, replace_host_route};
use crate::dataplane::{AttachmentPlan, AttachmentState, Dataplane, DpResult};
use weft_model::addressing::single;
use weft_model::naming::format_mac;
use weft_net::{Netlink, Route, TapOptions};

pub(super) fn create(dp: &LinuxDataplane, plan: &AttachmentPlan) -> DpResult<AttachmentState> {
    let queues = plan.vm.map_or(1, |vm| vm.queues);
    let tap = &plan.host_ifname;
    weft_net::create_tap(
        tap,
        TapOptions {
            multi_queue: queues > 1,
        },
    )
    .map_err(err(format!(
        "make the TAP of {}/{}",
        plan.network, plan.workload_id
    )))?;
    let result = configure(dp, &mut dp.host(), plan);
    if result.is_err() {
        let _ = dp.delete_link(tap);
    }
    result
}

fn configure(
    dp: &LinuxDataplane,
    host: &mut Netlink,
    plan: &AttachmentPlan,
) -> DpResult<AttachmentState> {
    let tap = &plan.host_ifname;
    let link = find_link(host, tap)?;
    host.set_alias(link.index, &plan.alias())
        .map_err(err(format!("set alias of {tap}")))?;
    host.set_mtu(link.index, plan.mtu)
        .map_err(err(format!("set MTU of {tap}")))?;
    match &plan.bridge {
        Some(bridge) => {
            let master = find_link(host, bridge)?;
            host.set_master(link.index, Some(master.index))
                .map_err(err(format!("add {tap} to bridge {bridge}")))?;
        }
        None => {
            // A guest told the subnet's mask (the kernel's `ip=`) asks ARP
            // for every address of it: the host answers for those it
            // routes elsewhere, as the guest's router.
            weft_net::set_sysctl(&dp.host_ns, &format!("net/ipv4/conf/{tap}/proxy_arp"), "1")
                .map_err(err(format!("answer ARP for the guest on {tap}")))?;
        }
    }
    host.set_up(link.index)
        .map_err(err(format!("bring up {tap}")))?;
    if plan.bridge.is_none() {
        replace_host_route(host, &Route::link(single(plan.address.addr()), link.index))
            .map_err(err(format!("route {} via {tap}", plan.address.addr())))?;
    }
    Ok(view(plan, &find_link(host, tap)?))
}

fn view(plan: &AttachmentPlan, tap: &weft_net::Link) -> AttachmentState {
    AttachmentState {
        mac: plan.mac.map(format_mac).unwrap_or_default(),
        host_mac: tap.mac.map(format_mac).unwrap_or_default(),
    }
}

/// Whether the TAP is there as made: a tun device with weft's alias, up,
/// a port of its bridge or the host route to the guest in place. A
/// running guest is not needed (a TAP without its hypervisor has no
/// carrier, and is still as weft made it).
pub(super) fn state(
    dp: &LinuxDataplane,
    plan: &AttachmentPlan,
) -> DpResult<Option<AttachmentState>> {
    let mut host = dp.host();
    let tap = &plan.host_ifname;
    let Some(link) = host.link_by_name(tap).map_err(err(format!("find {tap}")))? else {
        return Ok(None);
    };
    if link.kind.as_deref() != Some("tun")
        || link.alias.as_deref() != Some(plan.alias().as_str())
        || !link.up
    {
        return Ok(None);
    }
    match &plan.bridge {
        Some(bridge) => {
            let master = host
                .link_by_name(bridge)
                .map_err(err(format!("find {bridge}")))?;
            if master.is_none() || master.map(|m| m.index) != link.master {
                return Ok(None);
            }
        }
        None => {
            let want = single(plan.address.addr());
            let routes = host
                .routes()
                .map_err(err(format!("inspect routes of {tap}")))?;
            if !routes
                .iter()
                .any(|r| r.dst == want && r.oif == Some(link.index) && r.gateway.is_none())
            {
                return Ok(None);
            }
        }
    }
    Ok(Some(view(plan, &link)))
}

/// Delete the TAP if it is this attachment's: weft's alias, or none yet
/// on a tun device of the recorded name (a crash between making it and
/// marking it). Deleting it takes its routes along; a hypervisor still
/// holding it open loses the NIC.
pub(super) fn remove(dp: &LinuxDataplane, plan: &AttachmentPlan) -> DpResult<()> {
    let mut nl = dp.host();
    let tap = &plan.host_ifname;
    match nl.link_by_name(tap).map_err(err(format!("find {tap}")))? {
        Some(link)
            if link.alias.as_deref() == Some(plan.alias().as_str())
                || (link.alias.is_none() && link.kind.as_deref() == Some("tun")) =>
        {
            gone_is_fine(nl.delete_link(link.index)).map_err(err(format!("delete {tap}")))
        }
        _ => Ok(()),
    }
}
