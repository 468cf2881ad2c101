//! The real data plane: WireGuard through `weft-wg`, links, addresses and
//! routes through `weft-net`.
//!
//! Routed design: the host's address sits on the WireGuard interface (a /32,
//! plus a route for the whole subnet through it); each workload gets a veth
//! pair, its address as a /32, a link route to the host's address and a
//! default route (first attachment) or a subnet route (later ones) via it.
//! The host answers ARP for its own address on every link, so the workload
//! reaches its gateway over the veth, and a /32 route per workload on the host
//! side brings traffic back.

use crate::dataplane::*;
use crate::network_services::NetworkServices;
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use weft_model::addressing::single;
use weft_model::naming::{ALIAS_PREFIX, network_alias};
use weft_net::{Netlink, Netns, Route};
use weft_wg::{Backend, BackendKind, DeviceConfig, DeviceInfo, PeerConfig};

/// Which WireGuard implementation to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireguardMode {
    /// The kernel module when it is there, else the userspace engine.
    Auto,
    Kernel,
    Userspace,
}

pub struct LinuxDataplane {
    wg: Box<dyn Backend>,
    host: Mutex<Netlink>,
    host_ns: Netns,
    firewall: weft_firewall::Firewall,
    services: Arc<NetworkServices>,
}

fn err(context: impl Into<String>) -> impl FnOnce(weft_net::NetError) -> DataplaneError {
    let context = context.into();
    move |e| DataplaneError::new(context, e)
}

fn wg_err(e: weft_wg::WgError) -> DataplaneError {
    DataplaneError::new("wireguard", e)
}

/// Creates kernel WireGuard links for the kernel backend.
struct HostLinks;

fn io_err(e: weft_net::NetError) -> std::io::Error {
    std::io::Error::other(e)
}

impl weft_wg::LinkOps for HostLinks {
    fn create_wireguard(&self, name: &str) -> std::io::Result<()> {
        Netlink::new()
            .and_then(|mut nl| nl.create_wireguard(name))
            .map_err(io_err)
    }
    fn delete(&self, name: &str) -> std::io::Result<()> {
        let mut nl = Netlink::new().map_err(io_err)?;
        match nl.link_by_name(name).map_err(io_err)? {
            Some(link) => nl.delete_link(link.index).map_err(io_err),
            None => Ok(()),
        }
    }
    fn exists(&self, name: &str) -> bool {
        Netlink::new()
            .and_then(|mut nl| nl.link_by_name(name))
            .is_ok_and(|l| l.is_some())
    }
}

/// Does this kernel have WireGuard? Creates and deletes a probe link.
fn kernel_wireguard_available(nl: &mut Netlink) -> bool {
    let probe = format!("weftprobe{}", std::process::id() % 100_000);
    match nl.create_wireguard(&probe) {
        Ok(()) => {
            if let Ok(Some(link)) = nl.link_by_name(&probe) {
                let _ = nl.delete_link(link.index);
            }
            true
        }
        Err(e) => {
            tracing::debug!("kernel WireGuard probe: {e}");
            false
        }
    }
}

impl LinuxDataplane {
    pub fn new(
        mode: WireguardMode,
        uapi_dir: PathBuf,
        engine: weft_wg::EngineOptions,
        services: Arc<NetworkServices>,
    ) -> DpResult<Self> {
        let host_ns = Netns::current().map_err(err("open the host namespace"))?;
        let mut nl = Netlink::new().map_err(err("open netlink"))?;
        let kernel = match mode {
            WireguardMode::Userspace => false,
            WireguardMode::Auto => kernel_wireguard_available(&mut nl),
            WireguardMode::Kernel => {
                if !kernel_wireguard_available(&mut nl) {
                    return Err(DataplaneError::new(
                        "--wireguard kernel",
                        std::io::Error::other(
                            "this kernel has no WireGuard module; use --wireguard userspace or auto",
                        ),
                    ));
                }
                true
            }
        };
        let wg: Box<dyn Backend> = if kernel {
            Box::new(weft_wg::Kernel::new(Box::new(HostLinks)))
        } else {
            Box::new(weft_wg::Userspace::with_options(uapi_dir, engine))
        };
        tracing::info!(
            backend = if kernel { "kernel" } else { "userspace" },
            "WireGuard backend selected"
        );
        Ok(Self {
            wg,
            host: Mutex::new(nl),
            host_ns,
            firewall: weft_firewall::Firewall::new(),
            services,
        })
    }

    fn host(&self) -> std::sync::MutexGuard<'_, Netlink> {
        self.host.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `link`, of the network's recorded name, is the network's
    /// interface as a crash right after creating it left it (see
    /// [`unfinished_network_link`]).
    fn is_unfinished_network(&self, link: &weft_net::Link, plan: &NetworkPlan) -> DpResult<bool> {
        let kind = match plan.kind {
            NetworkKind::Bridge => "bridge",
            NetworkKind::Wireguard { .. } => "wireguard",
        };
        let mut nl = self.host();
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
    fn sync_peers(&self, ifname: &str, peers: &[PeerConfig]) -> DpResult<()> {
        let current = self.wg.get(ifname).map_err(wg_err)?;
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
        self.wg.configure(ifname, &config).map_err(wg_err)
    }
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

fn has_address(nl: &mut Netlink, index: u32, addr: IpNet) -> Result<bool, weft_net::NetError> {
    Ok(nl.addresses(Some(index))?.iter().any(|a| a.addr == addr))
}

fn ensure_address(nl: &mut Netlink, index: u32, addr: IpNet) -> Result<(), weft_net::NetError> {
    if !has_address(nl, index, addr)? {
        nl.add_address(index, addr)?;
    }
    Ok(())
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

fn find_link(nl: &mut Netlink, name: &str) -> DpResult<weft_net::Link> {
    nl.link_by_name(name)
        .map_err(err(format!("find {name}")))?
        .ok_or_else(|| {
            DataplaneError::new(format!("find {name}"), std::io::Error::other("it vanished"))
        })
}

impl Dataplane for LinuxDataplane {
    fn backend(&self) -> &'static str {
        match self.wg.kind() {
            BackendKind::Kernel => "kernel",
            BackendKind::Userspace => "userspace",
        }
    }

    fn ensure_network(&self, plan: &NetworkPlan) -> DpResult<()> {
        let ifname = &plan.ifname;
        // Never take over an interface that is someone else's.
        let existing = self
            .host()
            .link_by_name(ifname)
            .map_err(err(format!("find {ifname}")))?;
        if let Some(link) = existing
            && link.alias.as_deref() != Some(network_alias(&plan.name).as_str())
            // Our own engine's TUN is ours whatever its alias.
            && !(self.wg.kind() == BackendKind::Userspace && self.wg.exists(ifname))
            && !self.is_unfinished_network(&link, plan)?
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
                listen_port,
                peers,
            } => {
                if !self.wg.exists(ifname) {
                    self.wg.create(ifname).map_err(wg_err)?;
                }
                let device = DeviceConfig {
                    private_key: Some(private_key.clone()),
                    listen_port: Some(*listen_port),
                    ..Default::default()
                };
                self.wg.configure(ifname, &device).map_err(wg_err)?;
                self.sync_peers(ifname, peers)?;
            }
            NetworkKind::Bridge => {
                let mut nl = self.host();
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
        let mut nl = self.host();
        let link = find_link(&mut nl, ifname)?;
        let ctx = |what: &str| format!("{what} {ifname}");
        nl.set_alias(link.index, &network_alias(&plan.name))
            .map_err(err(ctx("set alias of")))?;
        ensure_address(&mut nl, link.index, plan.address)
            .map_err(err(format!("add {} to {ifname}", plan.address)))?;
        if let NetworkKind::Wireguard { .. } = plan.kind {
            nl.set_mtu(link.index, TUNNEL_MTU)
                .map_err(err(ctx("set MTU of")))?;
        }
        nl.set_up(link.index).map_err(err(ctx("bring up")))?;
        if let NetworkKind::Wireguard { .. } = plan.kind {
            // A bridge's address brings its subnet route; a /32 does not.
            let route = Route::link(plan.subnet, link.index).with_src(plan.address.addr());
            nl.replace_route(&route)
                .map_err(err(format!("route {} via {ifname}", plan.subnet)))?;
        }
        drop(nl);
        weft_net::set_sysctl(&self.host_ns, "net/ipv4/ip_forward", "1")
            .map_err(err("enable IPv4 forwarding"))?;
        Ok(())
    }

    fn network_present(&self, plan: &NetworkPlan) -> DpResult<bool> {
        let mut nl = self.host();
        let Some(link) = nl
            .link_by_name(&plan.ifname)
            .map_err(err(format!("find {}", plan.ifname)))?
        else {
            return Ok(false);
        };
        Ok(link.up
            && has_address(&mut nl, link.index, plan.address)
                .map_err(err(format!("inspect {}", plan.ifname)))?)
    }

    fn set_peers(&self, ifname: &str, peers: &[PeerConfig]) -> DpResult<()> {
        self.sync_peers(ifname, peers)
    }

    fn remove_network(&self, ifname: &str) -> DpResult<()> {
        if self.wg.exists(ifname) {
            self.wg.delete(ifname).map_err(wg_err)?;
        }
        // The kernel backend's link, or anything left of a userspace one —
        // only if it carries weft's mark.
        let mut nl = self.host();
        match nl
            .link_by_name(ifname)
            .map_err(err(format!("find {ifname}")))?
        {
            Some(link)
                if link
                    .alias
                    .as_deref()
                    .is_some_and(|a| a.starts_with(ALIAS_PREFIX)) =>
            {
                gone_is_fine(nl.delete_link(link.index)).map_err(err(format!("delete {ifname}")))
            }
            _ => Ok(()),
        }
    }

    fn network_status(&self, ifname: &str) -> DpResult<DeviceInfo> {
        self.wg.get(ifname).map_err(wg_err)
    }

    fn netns_id(&self, path: &str) -> Option<(u64, u64)> {
        let ns = Netns::open(std::path::Path::new(path)).ok()?;
        let id = ns.id();
        Some((id.dev, id.ino))
    }

    fn create_attachment(&self, plan: &AttachmentPlan) -> DpResult<AttachmentState> {
        let ns = Netns::open(std::path::Path::new(&plan.netns))
            .map_err(err(format!("open namespace {}", plan.netns)))?;
        let id = ns.id();
        if (id.dev, id.ino) != plan.netns_id {
            return Err(DataplaneError::new(
                format!("open namespace {}", plan.netns),
                std::io::Error::other("the path now names a different namespace"),
            ));
        }
        let host_if = &plan.host_ifname;
        self.host()
            .create_veth(host_if, &plan.ifname, Some(&ns))
            .map_err(err(format!(
                "create veth {host_if} (peer {} in {})",
                plan.ifname, plan.netns
            )))?;
        let result = configure_attachment(&mut self.host(), &ns, plan);
        if result.is_err() {
            // Deleting one end removes both, and the routes with them.
            let _ = self.delete_link(host_if);
        }
        result
    }

    fn attachment_state(&self, plan: &AttachmentPlan) -> DpResult<Option<AttachmentState>> {
        let mut host = self.host();
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
        let id = ns.id();
        if (id.dev, id.ino) != plan.netns_id {
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

    fn remove_attachment(&self, plan: &AttachmentPlan) -> DpResult<()> {
        let mut nl = self.host();
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

    fn owned_links(&self) -> DpResult<Vec<OwnedLink>> {
        let links = self.host().links().map_err(err("list links"))?;
        Ok(links
            .into_iter()
            .filter_map(|l| {
                let alias = l.alias.filter(|a| a.starts_with(ALIAS_PREFIX))?;
                Some(OwnedLink {
                    name: l.name,
                    alias,
                })
            })
            .collect())
    }

    fn delete_link(&self, name: &str) -> DpResult<()> {
        let mut nl = self.host();
        match nl.link_by_name(name).map_err(err(format!("find {name}")))? {
            Some(link) => {
                gone_is_fine(nl.delete_link(link.index)).map_err(err(format!("delete {name}")))
            }
            None => Ok(()),
        }
    }

    fn apply_firewall(&self, networks: &[weft_firewall::NetworkRules]) -> DpResult<()> {
        let applied = self
            .firewall
            .apply(networks)
            .map_err(|e| DataplaneError::new("apply the firewall (table inet weft)", e))?;
        tracing::debug!(?applied, networks = networks.len(), "firewall");
        Ok(())
    }

    fn ensure_services(&self, plan: &ServicesPlan) -> DpResult<()> {
        self.services.ensure(plan)
    }

    fn remove_services(&self, network: &str) -> DpResult<()> {
        self.services.remove(network);
        Ok(())
    }

    fn set_records(&self, network: &str, source: &str, records: Records) -> DpResult<()> {
        self.services.set_records(network, source, records)
    }
}

/// A link can vanish between finding and deleting it: the kernel destroys
/// a dead namespace's veths asynchronously. Gone is what we wanted.
fn gone_is_fine(result: Result<(), weft_net::NetError>) -> Result<(), weft_net::NetError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Everything after the veth exists: both ends up, addresses, routes.
/// Whether `host_link` is one end of a veth pair whose other end is the
/// attachment's interface in the attachment's namespace: what
/// `create_attachment` made before it set the alias.
fn is_unfinished_pair(host_link: &weft_net::Link, plan: &AttachmentPlan) -> bool {
    if host_link.kind.as_deref() != Some("veth") {
        return false;
    }
    let Ok(ns) = Netns::open(std::path::Path::new(&plan.netns)) else {
        return false;
    };
    let id = ns.id();
    if (id.dev, id.ino) != plan.netns_id {
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
            host.replace_route(&Route::link(single(plan.address.addr()), link.index))
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
    ensure_address(&mut nl, inner.index, plan.address).map_err(err(ctx(&format!(
        "add {} to {}",
        plan.address, plan.ifname
    ))))?;
    nl.set_up(inner.index)
        .map_err(err(ctx(&format!("bring up {}", plan.ifname))))?;
    for route in workload_routes(plan, inner.index) {
        nl.replace_route(&route)
            .map_err(err(ctx(&format!("add route {}", route.dst))))?;
    }
    let host_mac = find_link(host, host_if)?
        .mac
        .map(format_mac)
        .unwrap_or_default();
    Ok(AttachmentState {
        mac: inner.mac.map(format_mac).unwrap_or_default(),
        host_mac,
    })
}

#[cfg(test)]
mod tests {
    use super::unfinished_network_link;

    fn link(kind: &str, alias: Option<&str>, up: bool) -> weft_net::Link {
        weft_net::Link {
            index: 7,
            name: "wg0".into(),
            kind: Some(kind.into()),
            alias: alias.map(Into::into),
            mac: None,
            up,
            mtu: 1420,
            master: None,
            link_netnsid: None,
            peer_index: None,
        }
    }

    #[test]
    fn only_a_bare_link_of_the_right_kind_is_an_unfinished_network() {
        assert!(unfinished_network_link(
            &link("wireguard", None, false),
            "wireguard",
            false,
            false
        ));
        assert!(unfinished_network_link(
            &link("bridge", None, false),
            "bridge",
            false,
            false
        ));
        // Someone else's: another kind, marked, up, addressed, with ports.
        assert!(!unfinished_network_link(
            &link("bridge", None, false),
            "wireguard",
            false,
            false
        ));
        assert!(!unfinished_network_link(
            &link("wireguard", Some("mine"), false),
            "wireguard",
            false,
            false
        ));
        assert!(!unfinished_network_link(
            &link("wireguard", None, true),
            "wireguard",
            false,
            false
        ));
        assert!(!unfinished_network_link(
            &link("wireguard", None, false),
            "wireguard",
            true,
            false
        ));
        assert!(!unfinished_network_link(
            &link("bridge", None, false),
            "bridge",
            false,
            true
        ));
    }
}
