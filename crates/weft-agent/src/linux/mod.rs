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
//!
//! VMs get a persistent TAP instead of a veth, routed or on the bridge the
//! same way, and a DHCP responder that tells the guest its address.
//!
//! `network.rs` makes the networks' interfaces (`vxlan.rs` a VXLAN
//! network's VXLAN device and FDB), `attachment.rs` the workloads' veths,
//! `tap.rs` the VMs' TAPs, `dhcp.rs` keeps the DHCP responders,
//! `services.rs` each network's DNS responder and records endpoint; this
//! file picks the WireGuard backend and hands firewall and services to
//! their owners. Everything here imports only the seam (`dataplane/`) and
//! lower crates.

mod attachment;
mod dhcp;
mod network;
mod services;
mod tap;
mod vxlan;

pub use services::{NetworkServices, fetch_records, probe_peer, tell_changed};

use crate::dataplane::*;
use ipnet::IpNet;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use weft_model::naming::ALIAS_PREFIX;
use weft_net::{Netlink, Netns, NetnsId, Route, WEFT_ROUTE_PROTOCOL};
use weft_wg::{Backend, BackendKind, DeviceInfo, PeerConfig};

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
    /// The agent's namespace and PID 1's: never a workload's.
    host_netns_ids: Vec<NetnsId>,
    firewall: weft_firewall::Firewall,
    services: Arc<NetworkServices>,
    dhcp: dhcp::Responders,
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
        let mut host_netns_ids = vec![host_ns.id()];
        // Unreadable without a /proc of this PID namespace; the agent's own
        // is the one that matters.
        if let Ok(init) = Netns::open(std::path::Path::new("/proc/1/ns/net"))
            && init.id() != host_ns.id()
        {
            host_netns_ids.push(init.id());
        }
        Ok(Self {
            wg,
            host: Mutex::new(nl),
            host_ns,
            host_netns_ids,
            firewall: weft_firewall::Firewall::new(),
            services,
            dhcp: dhcp::Responders::default(),
        })
    }

    fn host(&self) -> MutexGuard<'_, Netlink> {
        self.host.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The drift check's view of the host from netlink's dumps.
fn host_view(
    links: &[weft_net::Link],
    addresses: &[weft_net::Address],
    routes: &[weft_net::Route],
) -> HostView {
    let names: std::collections::HashMap<u32, &str> =
        links.iter().map(|l| (l.index, l.name.as_str())).collect();
    let name_of = |index: u32| names.get(&index).map(|n| n.to_string());
    let mut by_link: std::collections::HashMap<u32, Vec<IpNet>> = Default::default();
    for a in addresses {
        by_link.entry(a.index).or_default().push(a.addr);
    }
    HostView {
        links: links
            .iter()
            .map(|l| {
                let view = LinkView {
                    alias: l.alias.clone(),
                    up: l.up,
                    mtu: l.mtu,
                    master: l.master.and_then(name_of),
                    addresses: by_link.remove(&l.index).unwrap_or_default(),
                };
                (l.name.clone(), view)
            })
            .collect(),
        routes: routes
            .iter()
            .filter_map(|r| Some((r.dst, name_of(r.oif?)?)))
            .collect(),
        fdb: Default::default(),
    }
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

fn is_weft_link(link: &weft_net::Link) -> bool {
    link.alias
        .as_deref()
        .is_some_and(|a| a.starts_with(ALIAS_PREFIX))
}

/// Add or replace a route in the host namespace, never in the place of a
/// route that is not weft's: one of weft's protocol, or on one of weft's
/// links (routes made before weft marked them with its protocol).
///
/// Only the links of the routes this one would replace are looked up, one
/// request each: a dump of every link grew an attach with the workloads on
/// the host (each veth whose peer is in another namespace costs the kernel
/// a walk of the namespace ids while dumping).
fn replace_host_route(nl: &mut Netlink, route: &Route) -> Result<(), weft_net::NetError> {
    let in_the_way: HashSet<u32> = nl
        .routes()?
        .iter()
        .filter(|r| route.would_replace(r) && r.protocol != WEFT_ROUTE_PROTOCOL)
        .filter_map(|r| r.oif)
        .collect();
    let mut weft_links = HashSet::new();
    for index in in_the_way {
        if nl.link_by_index(index)?.is_some_and(|l| is_weft_link(&l)) {
            weft_links.insert(index);
        }
    }
    nl.replace_own_route(route, |r| {
        r.protocol == WEFT_ROUTE_PROTOCOL || r.oif.is_some_and(|i| weft_links.contains(&i))
    })
}

/// The host's addresses and routes on links that are not weft's, default
/// routes left out.
fn host_prefixes(nl: &mut Netlink) -> Result<Vec<HostPrefix>, weft_net::NetError> {
    let foreign: HashMap<u32, String> = nl
        .links()?
        .into_iter()
        .filter(|l| !is_weft_link(l))
        .map(|l| (l.index, l.name))
        .collect();
    let addresses = nl.addresses(None)?.into_iter().filter_map(|a| {
        Some(HostPrefix {
            prefix: a.addr.trunc(),
            ifname: foreign.get(&a.index)?.clone(),
        })
    });
    let mut prefixes: Vec<HostPrefix> = addresses.collect();
    for route in nl.routes()? {
        let Some(ifname) = route.oif.and_then(|i| foreign.get(&i)) else {
            continue;
        };
        let prefix = HostPrefix {
            prefix: route.dst.trunc(),
            ifname: ifname.clone(),
        };
        if route.dst.prefix_len() > 0 && !prefixes.contains(&prefix) {
            prefixes.push(prefix);
        }
    }
    Ok(prefixes)
}

fn find_link(nl: &mut Netlink, name: &str) -> DpResult<weft_net::Link> {
    nl.link_by_name(name)
        .map_err(err(format!("find {name}")))?
        .ok_or_else(|| {
            DataplaneError::new(format!("find {name}"), std::io::Error::other("it vanished"))
        })
}

/// A link can vanish between finding and deleting it: the kernel destroys
/// a dead namespace's veths asynchronously. Gone is what we wanted.
fn gone_is_fine(result: Result<(), weft_net::NetError>) -> Result<(), weft_net::NetError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

impl Dataplane for LinuxDataplane {
    fn backend(&self) -> &'static str {
        match self.wg.kind() {
            BackendKind::Kernel => "kernel",
            BackendKind::Userspace => "userspace",
        }
    }

    fn ensure_network(&self, plan: &NetworkPlan) -> DpResult<()> {
        network::ensure(self, plan)
    }

    fn network_present(&self, plan: &NetworkPlan) -> DpResult<bool> {
        network::present(self, plan)
    }

    fn set_peers(&self, ifname: &str, peers: &[PeerConfig]) -> DpResult<()> {
        network::sync_peers(self, ifname, peers)
    }

    fn remove_network(&self, plan: &NetworkPlan) -> DpResult<()> {
        network::remove(self, plan)
    }

    fn set_fdb(&self, ifname: &str, remotes: &[std::net::IpAddr]) -> DpResult<()> {
        vxlan::set_fdb(self, ifname, remotes)
    }

    fn link_mtu(&self, ifname: &str) -> DpResult<Option<u32>> {
        let link = self
            .host()
            .link_by_name(ifname)
            .map_err(err(format!("find {ifname}")))?;
        Ok(link.map(|l| l.mtu))
    }

    fn link_with_address(&self, ip: std::net::IpAddr) -> DpResult<Option<(String, u32)>> {
        let mut nl = self.host();
        let addresses = nl.addresses(None).map_err(err("list addresses"))?;
        let Some(found) = addresses.iter().find(|a| a.addr.addr() == ip) else {
            return Ok(None);
        };
        let link = nl
            .link_by_index(found.index)
            .map_err(err(format!("find the link of {ip}")))?;
        Ok(link.map(|l| (l.name, l.mtu)))
    }

    fn network_status(&self, ifname: &str) -> DpResult<DeviceInfo> {
        self.wg.get(ifname).map_err(wg_err)
    }

    fn udp_port_free(&self, port: u16) -> bool {
        udp_port_free(port)
    }

    fn netns_id(&self, path: &str) -> Option<NetnsId> {
        attachment::netns_id(path)
    }

    fn host_netns_ids(&self) -> Vec<NetnsId> {
        self.host_netns_ids.clone()
    }

    fn host_prefixes(&self) -> DpResult<Vec<HostPrefix>> {
        host_prefixes(&mut self.host()).map_err(err("list the host's addresses and routes"))
    }

    fn create_attachment(&self, plan: &AttachmentPlan) -> DpResult<AttachmentState> {
        match plan.vm {
            Some(_) => tap::create(self, plan),
            None => attachment::create(self, plan),
        }
    }

    fn attachment_state(&self, plan: &AttachmentPlan) -> DpResult<Option<AttachmentState>> {
        match plan.vm {
            Some(_) => tap::state(self, plan),
            None => attachment::state(self, plan),
        }
    }

    fn remove_attachment(&self, plan: &AttachmentPlan) -> DpResult<()> {
        match plan.vm {
            Some(_) => tap::remove(self, plan),
            None => attachment::remove(self, plan),
        }
    }

    fn set_dhcp(&self, plan: DhcpPlan) -> DpResult<()> {
        self.dhcp.set(plan)
    }

    fn observe_host(&self) -> DpResult<HostView> {
        let mut nl = self.host();
        let links = nl.links().map_err(err("list links"))?;
        let addresses = nl.addresses(None).map_err(err("list addresses"))?;
        let routes = nl.routes().map_err(err("list routes"))?;
        let mut view = host_view(&links, &addresses, &routes);
        // One FDB dump per VXLAN device of weft's.
        for link in links
            .iter()
            .filter(|l| l.kind.as_deref() == Some("vxlan") && is_weft_link(l))
        {
            let remotes = vxlan::flooding(&mut nl, &link.name, link.index)?;
            view.fdb.insert(link.name.clone(), remotes);
        }
        Ok(view)
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

    fn apply_firewall(&self, networks: &[weft_firewall::NetworkRules]) -> DpResult<bool> {
        let applied = self
            .firewall
            .apply(networks)
            .map_err(|e| DataplaneError::new("apply the firewall (table inet weft)", e))?;
        tracing::debug!(?applied, networks = networks.len(), "firewall");
        Ok(applied != weft_firewall::Applied::Unchanged)
    }

    fn apply_bridge_ports(&self, networks: &[weft_firewall::NetworkRules]) -> DpResult<()> {
        let applied = self
            .firewall
            .apply_ports(networks)
            .map_err(|e| DataplaneError::new("pin the bridge ports (table bridge weft)", e))?;
        tracing::debug!(?applied, "bridge ports pinned");
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

    fn source_addresses(&self, network: &str, source: &str, label: &str) -> Vec<std::net::IpAddr> {
        self.services.source_addresses(network, source, label)
    }
}

/// Bind the port as WireGuard will, on every address, and let it go. The
/// caller's thread is in the agent's namespace (only scoped helpers on
/// threads of their own enter others). IPv6 is asked separately: a socket
/// on `[::]` alone may be v6-only; a namespace without IPv6 only needs the
/// IPv4 port.
fn udp_port_free(port: u16) -> bool {
    use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
    let in_use = |r: std::io::Result<UdpSocket>| matches!(r, Err(e) if e.kind() == std::io::ErrorKind::AddrInUse);
    let v4 = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port));
    if v4.is_err() {
        return false;
    }
    drop(v4);
    !in_use(UdpSocket::bind((Ipv6Addr::UNSPECIFIED, port)))
}
