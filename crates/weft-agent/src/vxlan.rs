//! VXLAN networks: their settings checked against the host and the other
//! networks, the plan of their bridge and VXLAN device, and their remote
//! tunnel endpoints (VTEPs: peers without keys, one flooding FDB entry
//! each).
//!
//! The segment: every host's bridge carries the network's gateway (the same
//! address everywhere, see [`weft_model::naming::vxlan_gateway`]) and its
//! own address (the first of its block), which is where peers probe it and
//! fetch its names. ARP for the gateway never crosses the VXLAN device
//! (`weft-firewall`'s table `bridge weft`), so each workload resolves the
//! gateway to its own host and leaves the segment there.
//!
//! The VTEPs are also the only hosts the segment's VXLAN packets are taken
//! from (`weft-firewall`'s `vxlan` module): adding or removing one changes
//! the flooding entries and then the firewall.

use crate::agent::{Agent, Result};
use crate::dataplane::{Dataplane, TUNNEL_MTU, VxlanPlan};
use crate::error::Conflict;
use crate::networks::VxlanSpec;
use crate::records::{NetworkRecord, Underlay, VtepRecord, VxlanSettings};
use ipnet::IpNet;
use std::net::IpAddr;
use weft_model::error::chain;
use weft_model::network::{vxlan_mtu, vxlan_overhead};
use weft_model::{Mode, ModelError, naming, peer};

pub use weft_model::network::{MIN_VXLAN_MTU, ROUTED_UNDERLAY_MTU};

/// A remote VTEP to add, parsed at the edge (see `grpc/requests.rs`).
#[derive(Clone, Debug)]
pub struct VtepSpec {
    pub network: String,
    pub address: IpAddr,
    /// The remote host's block of the subnet, when known.
    pub block: Option<IpNet>,
}

impl<D: Dataplane> Agent<D> {
    /// Check a VXLAN network's VNI, port, underlay and MTU against the host
    /// and `existing` networks; the settings to record.
    pub(crate) fn vxlan_settings(
        &self,
        spec: VxlanSpec,
        existing: &[NetworkRecord],
    ) -> Result<VxlanSettings> {
        let vxlans = || existing.iter().filter_map(|n| Some((n, n.vxlan.as_ref()?)));
        if let Some((other, _)) = vxlans().find(|(_, v)| v.vni == spec.vni) {
            return Err(ModelError::invalid(
                "vni",
                spec.vni,
                format!("is already used by network {:?}", other.name),
            )
            .into());
        }
        // VXLAN devices share the kernel's socket of a port; anyone else's
        // socket on it would keep the device from coming up.
        if let Some(other) = existing.iter().find(|n| {
            n.wireguard
                .as_ref()
                .is_some_and(|w| w.listen_port == spec.port)
        }) {
            return Err(ModelError::invalid(
                "port",
                spec.port,
                format!("is the WireGuard listen port of network {:?}", other.name),
            )
            .into());
        }
        if !vxlans().any(|(_, v)| v.port == spec.port) && !self.dp.udp_port_free(spec.port) {
            return Err(ModelError::invalid(
                "port",
                spec.port,
                "is in use by another program (UDP)",
            )
            .into());
        }
        let (underlay_mtu, what) = match &spec.underlay {
            Underlay::Routed => (ROUTED_UNDERLAY_MTU, "the underlay".to_string()),
            Underlay::Over(name) => {
                let over = existing.iter().find(|n| &n.name == name);
                if !over.is_some_and(|n| n.mode == Mode::Wireguard) {
                    return Err(ModelError::invalid(
                        "over",
                        name,
                        "is not a WireGuard network of this host",
                    )
                    .into());
                }
                (TUNNEL_MTU, format!("WireGuard network {name:?}"))
            }
            Underlay::Device(ifname) => {
                let mtu = self.dp.link_mtu(ifname)?.ok_or_else(|| {
                    ModelError::invalid("underlay", ifname, "no such interface on this host")
                })?;
                (mtu, format!("interface {ifname}"))
            }
            Underlay::Local(ip) => {
                let (ifname, mtu) = self.dp.link_with_address(*ip)?.ok_or_else(|| {
                    ModelError::invalid("local", ip, "is not an address of this host")
                })?;
                (mtu, format!("interface {ifname} (of {ip})"))
            }
        };
        // Only a local IPv6 address says the tunnel runs over IPv6; the rest
        // (a WireGuard network, an interface, routing) carries IPv4 here.
        let ipv6 = matches!(spec.underlay, Underlay::Local(IpAddr::V6(_)));
        let largest = vxlan_mtu(underlay_mtu, ipv6);
        let mtu = match spec.mtu {
            None => largest,
            Some(mtu) if mtu < MIN_VXLAN_MTU => {
                return Err(ModelError::invalid(
                    "mtu",
                    mtu,
                    format!("must be at least {MIN_VXLAN_MTU}"),
                )
                .into());
            }
            Some(mtu) if mtu > largest => {
                return Err(ModelError::invalid(
                    "mtu",
                    mtu,
                    format!(
                        "does not fit: {what} has MTU {underlay_mtu} and VXLAN over IPv{} takes \
                         {} bytes of it (at most {largest})",
                        if ipv6 { 6 } else { 4 },
                        vxlan_overhead(ipv6)
                    ),
                )
                .into());
            }
            Some(mtu) => mtu,
        };
        Ok(VxlanSettings {
            vni: spec.vni,
            port: spec.port,
            mtu,
            underlay: spec.underlay,
        })
    }

    /// The VXLAN networks that run over network `name`.
    pub(crate) fn networks_over(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .networks()?
            .into_iter()
            .filter(|n| {
                n.vxlan
                    .as_ref()
                    .is_some_and(|v| v.underlay == Underlay::Over(name.to_string()))
            })
            .map(|n| n.name)
            .collect())
    }

    /// What the kernel needs for a VXLAN network beyond its bridge.
    pub(crate) fn vxlan_plan(&self, net: &NetworkRecord, vx: &VxlanSettings) -> Result<VxlanPlan> {
        let (local, underlay) = match &vx.underlay {
            Underlay::Routed => (None, None),
            Underlay::Local(ip) => (Some(*ip), None),
            Underlay::Device(ifname) => (None, Some(ifname.clone())),
            Underlay::Over(name) => {
                let over = self.network_record(name)?;
                (Some(naming::host_address(&over.block)), Some(over.ifname()))
            }
        };
        Ok(VxlanPlan {
            ifname: naming::vxlan_ifname(net.index),
            vni: vx.vni,
            port: vx.port,
            local,
            underlay,
            mtu: vx.mtu,
            gateway: IpNet::new(net.gateway(), net.subnet.prefix_len())
                .expect("prefix of a valid subnet"),
            remotes: self
                .store
                .vteps(&net.name)?
                .iter()
                .map(|v| v.address)
                .collect(),
        })
    }

    fn vxlan_network(&self, name: &str) -> Result<(NetworkRecord, VxlanSettings)> {
        let net = self.network_record(name)?;
        match net.vxlan.clone() {
            Some(vx) => Ok((net, vx)),
            None => Err(Conflict::NoVteps {
                network: name.to_string(),
                mode: net.mode,
            }
            .into()),
        }
    }

    /// Add (or replace) a remote VTEP of a VXLAN network and its flooding
    /// entry.
    pub fn add_vtep(&mut self, spec: VtepSpec) -> Result<VtepRecord> {
        let (net, vx) = self.vxlan_network(&spec.network)?;
        let plan = self.vxlan_plan(&net, &vx)?;
        if plan.local == Some(spec.address) {
            return Err(ModelError::invalid(
                "endpoint",
                spec.address,
                "is this host's own tunnel endpoint on the network",
            )
            .into());
        }
        let existing = self.store.vteps(&net.name)?;
        if let Some(block) = spec.block {
            let others: Vec<(String, IpNet)> = existing
                .iter()
                .filter(|v| v.address != spec.address)
                .filter_map(|v| Some((v.address.to_string(), v.block?)))
                .collect();
            peer::check_allowed_ips(
                &[block],
                &net.subnet,
                &net.block,
                others.iter().map(|(a, n)| (a.as_str(), n)),
            )?;
        }
        let record = VtepRecord {
            network: net.name.clone(),
            address: spec.address,
            block: spec.block,
        };
        let previous = existing.into_iter().find(|v| v.address == spec.address);
        self.store.upsert_vtep(&record)?;
        let remotes = self.vxlan_plan(&net, &vx)?.remotes;
        // The flooding entry, then the firewall that lets the VTEP's
        // packets in: until both hold, the VTEP is not one.
        let applied = self
            .dp
            .set_fdb(&plan.ifname, &remotes)
            .map_err(Into::into)
            .and_then(|()| self.apply_firewall());
        if let Err(err) = applied {
            match &previous {
                Some(v) => self.store.upsert_vtep(v)?,
                None => {
                    self.store.delete_vtep(&net.name, spec.address)?;
                }
            }
            if let Err(e) = self.dp.set_fdb(&plan.ifname, &plan.remotes) {
                tracing::warn!(network = %net.name, "rolling back the FDB: {}", chain(&e));
            }
            return Err(err);
        }
        tracing::info!(network = %net.name, vtep = %record.address, "VTEP set");
        Ok(record)
    }

    pub fn remove_vtep(&mut self, network: &str, address: IpAddr) -> Result<bool> {
        let (net, vx) = self.vxlan_network(network)?;
        let removed = self.store.delete_vtep(network, address)?;
        if removed {
            let plan = self.vxlan_plan(&net, &vx)?;
            self.dp.set_fdb(&plan.ifname, &plan.remotes)?;
            // Its packets are refused from now on; a failure is retried
            // by the next drift pass.
            if let Err(e) = self.apply_firewall() {
                tracing::warn!(network, vtep = %address, "refuse the removed VTEP: {}", chain(&e));
            }
            tracing::info!(network, vtep = %address, "VTEP removed");
        }
        Ok(removed)
    }

    /// The remote VTEPs of a network (none for other modes).
    pub fn vteps(&self, network: &str) -> Result<Vec<VtepRecord>> {
        self.network_record(network)?;
        Ok(self.store.vteps(network)?)
    }
}
