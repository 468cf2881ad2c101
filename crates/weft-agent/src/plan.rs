//! Records into plans: what the data plane must make of a network, an
//! attachment, a network's services and the firewall, from what the store
//! holds. No effects here, except resolving peers' endpoints again.

use crate::agent::{Agent, Result};
use crate::dataplane::{
    AttachmentPlan, DNS_PORT, Dataplane, NetworkKind, NetworkPlan, RECORDS_PORT, Records,
    ServicesPlan,
};
use crate::peers::Endpoint;
use crate::records::{AttachmentRecord, NetworkRecord, PeerRecord, Underlay};
use ipnet::IpNet;
use std::net::SocketAddr;
use weft_model::{Mode, addressing, naming};
use weft_wg::PeerConfig;

fn peer_config(record: &PeerRecord, endpoint: Option<SocketAddr>) -> PeerConfig {
    let mut config = PeerConfig::new(record.public_key);
    config.endpoint = endpoint;
    config.allowed_ips = record.allowed_ips.clone();
    config.replace_allowed_ips = true;
    config.persistent_keepalive = Some(record.keepalive);
    config
}

/// The MAC weft gives the workload's end: a VM's recorded one; on a
/// bridge, one derived from the network and the id (so the firewall can
/// pin the port to it); elsewhere the kernel's choice.
fn workload_mac(a: &AttachmentRecord, bridged: bool) -> Option<[u8; 6]> {
    match a.vm {
        Some(vm) => Some(vm.mac),
        None => bridged.then(|| naming::workload_mac(&a.network, &a.workload_id)),
    }
}

impl<D: Dataplane> Agent<D> {
    /// Peers of a network as the data plane takes them. An endpoint that no
    /// longer resolves is left out (the peer can still reach us and roam).
    pub(crate) fn peer_configs(&self, network: &str) -> Result<Vec<PeerConfig>> {
        self.peer_configs_quietly(network, false)
    }

    /// [`Agent::peer_configs`], saying that an endpoint no longer resolves
    /// at `debug` when `quiet` (the periodic drift check, which would say
    /// it every few seconds), else at `warn`.
    pub(crate) fn peer_configs_quietly(
        &self,
        network: &str,
        quiet: bool,
    ) -> Result<Vec<PeerConfig>> {
        Ok(self
            .store
            .peers(network)?
            .iter()
            .map(|p| {
                let endpoint = Endpoint::resolve(&p.endpoint)
                    .inspect_err(|e| {
                        if quiet {
                            tracing::debug!(network, peer = %p.public_key, "{e}");
                        } else {
                            tracing::warn!(network, peer = %p.public_key, "{e}");
                        }
                    })
                    .ok()
                    .map(|e| e.addr);
                peer_config(p, endpoint)
            })
            .collect())
    }

    pub(crate) fn network_plan(&self, net: &NetworkRecord) -> Result<NetworkPlan> {
        self.network_plan_quietly(net, false)
    }

    /// [`Agent::network_plan`]; `quiet` as in [`Agent::peer_configs_quietly`].
    pub(crate) fn network_plan_quietly(
        &self,
        net: &NetworkRecord,
        quiet: bool,
    ) -> Result<NetworkPlan> {
        let kind = match (&net.wireguard, &net.vxlan) {
            (Some(wg), _) => NetworkKind::Wireguard {
                private_key: wg.private_key.clone(),
                retiring_key: wg.retiring_key.clone(),
                listen_port: wg.listen_port,
                peers: self.peer_configs_quietly(&net.name, quiet)?,
            },
            (None, Some(vx)) => NetworkKind::Vxlan(self.vxlan_plan(net, vx)?),
            (None, None) => NetworkKind::Bridge,
        };
        Ok(NetworkPlan {
            name: net.name.clone(),
            ifname: net.ifname(),
            address: net.host_address(),
            subnet: net.subnet,
            kind,
        })
    }

    pub(crate) fn attachment_plan(
        &self,
        net: &NetworkRecord,
        a: &AttachmentRecord,
    ) -> AttachmentPlan {
        let (address, bridge) = match net.mode {
            Mode::Wireguard => (addressing::single(a.ip), None),
            Mode::Bridge | Mode::Vxlan => (
                IpNet::new(a.ip, net.subnet.prefix_len()).expect("prefix of a valid subnet"),
                Some(net.ifname()),
            ),
        };
        AttachmentPlan {
            network: a.network.clone(),
            workload_id: a.workload_id.clone(),
            netns: a.netns.clone(),
            netns_id: a.netns_id,
            ifname: a.ifname.clone(),
            host_ifname: a.host_ifname.clone(),
            address,
            gateway: net.gateway(),
            subnet: net.subnet,
            default_route: a.default_route,
            mtu: net.mtu(),
            mac: workload_mac(a, bridge.is_some()),
            vm: a.vm,
            bridge,
        }
    }

    /// The firewall rules of every network: each network's interfaces are
    /// its WireGuard interface and its veths and VMs' TAPs (`w<index>-*`),
    /// or its bridge (whose workload ports, veths and TAPs, are pinned to
    /// their MAC and address; on a VXLAN network ARP for the gateway stays
    /// off its VXLAN device). An internal WireGuard network that carries
    /// VXLAN networks lets their port through to this host. A VXLAN
    /// network takes its VXLAN packets only from its VTEPs, and when it
    /// runs over a WireGuard network only through that network's
    /// interface.
    pub(crate) fn firewall_rules(&self) -> Result<Vec<weft_firewall::NetworkRules>> {
        use weft_firewall::IfMatch;
        let attachments = self.store.attachments()?;
        let bridge_ports = |net: &NetworkRecord| weft_firewall::BridgePorts {
            prefix: naming::BRIDGE_VETH_PREFIX.to_string(),
            ports: attachments
                .iter()
                .filter(|a| a.network == net.name)
                .filter_map(|a| match a.ip {
                    std::net::IpAddr::V4(ip) => Some(weft_firewall::BridgePort {
                        ifname: a.host_ifname.clone(),
                        mac: workload_mac(a, true).expect("a bridge port has a MAC"),
                        ip,
                    }),
                    std::net::IpAddr::V6(_) => None,
                })
                .collect(),
            local_gateway: match (net.mode, net.gateway()) {
                (Mode::Vxlan, std::net::IpAddr::V4(ip)) => Some(weft_firewall::LocalGateway {
                    port: naming::vxlan_ifname(net.index),
                    ip,
                }),
                _ => None,
            },
        };
        let networks = self.store.networks()?;
        // What an internal network's hosts must still take from each other:
        // the VXLAN traffic of the segments that run over it.
        let carried_ports = |carrier: &str| -> Vec<u16> {
            let mut ports: Vec<u16> = networks
                .iter()
                .filter_map(|n| n.vxlan.as_ref())
                .filter(|v| v.underlay == Underlay::Over(carrier.to_string()))
                .map(|v| v.port)
                .collect();
            ports.sort_unstable();
            ports.dedup();
            ports
        };
        let vxlan_sources = |net: &NetworkRecord| -> Result<Option<weft_firewall::VxlanSources>> {
            let Some(vx) = &net.vxlan else {
                return Ok(None);
            };
            // A network that carries another cannot be removed, so the
            // carrier is among `networks`; not finding it is an error.
            let over = match &vx.underlay {
                Underlay::Over(carrier) => {
                    Some(match networks.iter().find(|n| &n.name == carrier) {
                        Some(n) => n.ifname(),
                        None => self.network_record(carrier)?.ifname(),
                    })
                }
                Underlay::Routed | Underlay::Local(_) | Underlay::Device(_) => None,
            };
            Ok(Some(weft_firewall::VxlanSources {
                vni: vx.vni,
                port: vx.port,
                over,
                vteps: self
                    .store
                    .vteps(&net.name)?
                    .iter()
                    .map(|v| v.address)
                    .collect(),
            }))
        };
        networks
            .iter()
            .map(|n| -> Result<weft_firewall::NetworkRules> {
                Ok(weft_firewall::NetworkRules {
                    name: n.name.clone(),
                    subnets: vec![n.subnet],
                    interfaces: match n.mode {
                        Mode::Wireguard => vec![
                            IfMatch::Exact(n.ifname()),
                            IfMatch::Prefix(naming::routed_veth_prefix(n.index)),
                        ],
                        Mode::Bridge | Mode::Vxlan => vec![IfMatch::Exact(n.ifname())],
                    },
                    internal: n.internal,
                    bridge_ports: n.mode.is_bridged().then(|| bridge_ports(n)),
                    // All an internal network's workloads may reach of this host.
                    host_services: n.internal.then(|| weft_firewall::HostServices {
                        address: naming::host_address(&n.block),
                        tcp_ports: vec![DNS_PORT, RECORDS_PORT],
                        // DNS, peers' probes, DHCP for a VM's renewal, and the
                        // VXLAN port of the segments carried over this network.
                        udp_ports: [DNS_PORT, RECORDS_PORT, weft_dhcp::responder::SERVER_PORT]
                            .into_iter()
                            .chain(carried_ports(&n.name))
                            .collect(),
                    }),
                    vxlan: vxlan_sources(n)?,
                })
            })
            .collect()
    }

    pub(crate) fn services_plan(&self, net: &NetworkRecord) -> ServicesPlan {
        ServicesPlan {
            network: net.name.clone(),
            domain: net.domain.clone(),
            listen: naming::host_address(&net.block),
            internal: net.internal,
        }
    }

    /// The names this host gives a network's zone: itself and its named
    /// workloads.
    pub(crate) fn local_records(&self, net: &NetworkRecord) -> Result<Records> {
        let mut records = Records::new();
        records.insert(
            self.host_name.to_lowercase(),
            vec![naming::host_address(&net.block)],
        );
        for a in self.store.attachments_of_network(&net.name)? {
            if !a.name.is_empty() {
                records.entry(a.name.to_lowercase()).or_default().push(a.ip);
            }
        }
        Ok(records)
    }
}
