//! An in-memory [`Dataplane`] for testing the agent's orchestration without
//! root: it records what exists and can be told to fail.

use crate::dataplane::*;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use weft_model::addressing::single;
use weft_model::naming::network_alias;
use weft_net::NetnsId;
use weft_wg::{DeviceInfo, PeerConfig, PeerInfo};

#[derive(Default)]
pub struct FakeState {
    pub networks: BTreeMap<String, NetworkPlan>,
    /// host_ifname -> plan
    pub attachments: BTreeMap<String, AttachmentPlan>,
    /// netns path -> identity
    pub namespaces: BTreeMap<String, NetnsId>,
    /// Extra links carrying weft aliases (name -> alias), e.g. leftovers.
    pub stray_links: BTreeMap<String, String>,
    /// The last firewall applied.
    pub firewall: Vec<weft_firewall::NetworkRules>,
    /// network -> its services
    pub services: BTreeMap<String, ServicesPlan>,
    /// (network, source) -> names
    pub records: BTreeMap<(String, String), Records>,
    /// What [`Dataplane::host_prefixes`] reports.
    pub host_prefixes: Vec<HostPrefix>,
    /// UDP ports someone else holds.
    pub busy_udp_ports: std::collections::BTreeSet<u16>,
    /// Interfaces reported down (a drift the tests make).
    pub down: std::collections::BTreeSet<String>,
    /// VXLAN device -> the VTEPs it floods to.
    pub fdb: BTreeMap<String, Vec<IpAddr>>,
    /// The host's other links: name -> MTU.
    pub host_links: BTreeMap<String, u32>,
    /// The host's addresses: address -> link.
    pub host_addresses: BTreeMap<IpAddr, String>,
    /// What the DHCP responders answer, by interface.
    pub dhcp: DhcpPlan,
    /// Interfaces whose peers have all learnt the key the interface has
    /// (after a rotation): until then, each peer still needs the retiring key.
    pub peers_learnt_key: std::collections::BTreeSet<String>,
    /// Calls that changed something, of any kind.
    pub writes: usize,
    pub fail_ensure_network: bool,
    pub fail_services: bool,
    pub fail_create_attachment: bool,
    pub fail_set_peers: bool,
    pub fail_set_fdb: bool,
    pub fail_firewall: bool,
}

#[derive(Default)]
pub struct FakeDataplane {
    state: Mutex<FakeState>,
}

/// The identity the fake gives the agent's own namespace.
pub const HOST_NETNS: NetnsId = NetnsId {
    dev: 4,
    ino: 4026531840,
};

fn fail(what: &str) -> DataplaneError {
    DataplaneError::new(what.to_string(), std::io::Error::other("injected failure"))
}

fn state() -> AttachmentState {
    AttachmentState {
        mac: "02:00:00:00:00:01".into(),
        host_mac: "02:00:00:00:00:02".into(),
    }
}

impl FakeDataplane {
    /// What the fake holds; a test that panicked with it held does not
    /// wedge the others.
    pub fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The peers set on a WireGuard interface (empty if none or a bridge).
    pub fn peers(&self, ifname: &str) -> Vec<weft_wg::PeerConfig> {
        match self.lock().networks.get(ifname).map(|n| &n.kind) {
            Some(NetworkKind::Wireguard { peers, .. }) => peers.clone(),
            _ => vec![],
        }
    }

    pub fn with_netns(self, path: &str, id: NetnsId) -> Self {
        self.lock().namespaces.insert(path.into(), id);
        self
    }
}

impl Dataplane for FakeDataplane {
    fn backend(&self) -> &'static str {
        "fake"
    }

    fn ensure_network(&self, plan: &NetworkPlan) -> DpResult<()> {
        let mut s = self.lock();
        s.writes += 1;
        if s.fail_ensure_network {
            return Err(fail("ensure network"));
        }
        s.down.remove(&plan.ifname);
        if let NetworkKind::Vxlan(vx) = &plan.kind {
            s.fdb.insert(vx.ifname.clone(), vx.remotes.clone());
        }
        s.networks.insert(plan.ifname.clone(), plan.clone());
        Ok(())
    }

    fn set_fdb(&self, ifname: &str, remotes: &[IpAddr]) -> DpResult<()> {
        let mut s = self.lock();
        s.writes += 1;
        if s.fail_set_fdb {
            return Err(fail("set FDB"));
        }
        let entries = s
            .fdb
            .get_mut(ifname)
            .ok_or_else(|| fail("set FDB of a missing VXLAN device"))?;
        *entries = remotes.to_vec();
        Ok(())
    }

    fn link_mtu(&self, ifname: &str) -> DpResult<Option<u32>> {
        Ok(self.lock().host_links.get(ifname).copied())
    }

    fn link_with_address(&self, ip: IpAddr) -> DpResult<Option<(String, u32)>> {
        let s = self.lock();
        Ok(s.host_addresses.get(&ip).map(|link| {
            let mtu = s.host_links.get(link).copied().unwrap_or(BRIDGE_MTU);
            (link.clone(), mtu)
        }))
    }

    fn set_peers(&self, ifname: &str, peers: &[PeerConfig]) -> DpResult<()> {
        let mut s = self.lock();
        s.writes += 1;
        if s.fail_set_peers {
            return Err(fail("set peers"));
        }
        let net = s
            .networks
            .get_mut(ifname)
            .ok_or_else(|| fail("set peers on a missing interface"))?;
        match &mut net.kind {
            NetworkKind::Wireguard { peers: current, .. } => *current = peers.to_vec(),
            NetworkKind::Bridge | NetworkKind::Vxlan(_) => {
                return Err(fail("set peers on a bridge"));
            }
        }
        Ok(())
    }

    fn remove_network(&self, plan: &NetworkPlan) -> DpResult<()> {
        let mut s = self.lock();
        s.writes += 1;
        if let NetworkKind::Vxlan(vx) = &plan.kind {
            s.fdb.remove(&vx.ifname);
        }
        s.networks.remove(&plan.ifname);
        s.down.remove(&plan.ifname);
        Ok(())
    }

    fn network_status(&self, ifname: &str) -> DpResult<DeviceInfo> {
        let s = self.lock();
        let net = s
            .networks
            .get(ifname)
            .ok_or_else(|| fail("no such interface"))?;
        let NetworkKind::Wireguard {
            private_key,
            retiring_key,
            listen_port,
            peers,
        } = &net.kind
        else {
            return Err(fail("not a WireGuard interface"));
        };
        Ok(DeviceInfo {
            ifname: ifname.into(),
            public_key: Some(private_key.public_key()),
            listen_port: *listen_port,
            fwmark: 0,
            peers: peers
                .iter()
                .map(|p| PeerInfo {
                    public_key: p.public_key,
                    endpoint: p.endpoint,
                    allowed_ips: p.allowed_ips.clone(),
                    last_handshake: None,
                    rx_bytes: 0,
                    tx_bytes: 0,
                    persistent_keepalive: p.persistent_keepalive,
                })
                .collect(),
            retiring_peers: if retiring_key.is_some() && !s.peers_learnt_key.contains(ifname) {
                peers.len()
            } else {
                0
            },
        })
    }

    fn network_present(&self, plan: &NetworkPlan) -> DpResult<bool> {
        Ok(self.lock().networks.contains_key(&plan.ifname))
    }

    fn udp_port_free(&self, port: u16) -> bool {
        !self.lock().busy_udp_ports.contains(&port)
    }

    fn netns_id(&self, path: &str) -> Option<NetnsId> {
        self.lock().namespaces.get(path).copied()
    }

    fn host_netns_ids(&self) -> Vec<NetnsId> {
        vec![HOST_NETNS]
    }

    fn host_prefixes(&self) -> DpResult<Vec<HostPrefix>> {
        Ok(self.lock().host_prefixes.clone())
    }

    fn create_attachment(&self, plan: &AttachmentPlan) -> DpResult<AttachmentState> {
        let mut s = self.lock();
        s.writes += 1;
        if s.fail_create_attachment {
            return Err(fail("create attachment"));
        }
        if s.attachments.contains_key(&plan.host_ifname) {
            return Err(fail("host interface exists"));
        }
        s.down.remove(&plan.host_ifname);
        s.attachments.insert(plan.host_ifname.clone(), plan.clone());
        Ok(state())
    }

    fn attachment_state(&self, plan: &AttachmentPlan) -> DpResult<Option<AttachmentState>> {
        let s = self.lock();
        Ok(s.attachments
            .get(&plan.host_ifname)
            .filter(|p| *p == plan)
            .map(|_| state()))
    }

    fn remove_attachment(&self, plan: &AttachmentPlan) -> DpResult<()> {
        let mut s = self.lock();
        s.writes += 1;
        s.attachments.remove(&plan.host_ifname);
        Ok(())
    }

    fn observe_host(&self) -> DpResult<HostView> {
        let s = self.lock();
        let mut host = HostView::default();
        let up = |name: &str| !s.down.contains(name);
        for (name, plan) in &s.networks {
            let wireguard = matches!(plan.kind, NetworkKind::Wireguard { .. });
            let mut link = LinkView {
                alias: Some(network_alias(&plan.name)),
                up: up(name),
                mtu: if wireguard { TUNNEL_MTU } else { BRIDGE_MTU },
                master: None,
                addresses: vec![plan.address],
            };
            if let NetworkKind::Vxlan(vx) = &plan.kind {
                link.mtu = vx.mtu;
                link.addresses.push(vx.gateway);
                let device = LinkView {
                    alias: Some(network_alias(&plan.name)),
                    up: up(&vx.ifname),
                    mtu: vx.mtu,
                    master: Some(name.clone()),
                    addresses: vec![],
                };
                host.links.insert(vx.ifname.clone(), device);
                if let Some(remotes) = s.fdb.get(&vx.ifname) {
                    host.fdb.insert(vx.ifname.clone(), remotes.clone());
                }
            }
            host.links.insert(name.clone(), link);
            if wireguard {
                host.routes.push((plan.subnet, name.clone()));
            }
        }
        for (name, plan) in &s.attachments {
            let link = LinkView {
                alias: Some(plan.alias()),
                up: up(name),
                mtu: plan.mtu,
                master: plan.bridge.clone(),
                addresses: vec![],
            };
            host.links.insert(name.clone(), link);
            if plan.bridge.is_none() {
                host.routes
                    .push((single(plan.address.addr()), name.clone()));
            }
        }
        for (name, alias) in &s.stray_links {
            let link = LinkView {
                alias: Some(alias.clone()),
                up: up(name),
                ..LinkView::default()
            };
            host.links.insert(name.clone(), link);
        }
        Ok(host)
    }

    fn owned_links(&self) -> DpResult<Vec<OwnedLink>> {
        let s = self.lock();
        let nets = s.networks.iter().flat_map(|(name, plan)| {
            let mut links = vec![name.as_str()];
            if let NetworkKind::Vxlan(vx) = &plan.kind {
                links.push(vx.ifname.as_str());
            }
            links.into_iter().map(|l| OwnedLink {
                name: l.to_string(),
                alias: network_alias(&plan.name),
            })
        });
        let atts = s.attachments.iter().map(|(name, plan)| OwnedLink {
            name: name.clone(),
            alias: plan.alias(),
        });
        let strays = s.stray_links.iter().map(|(name, alias)| OwnedLink {
            name: name.clone(),
            alias: alias.clone(),
        });
        Ok(nets.chain(atts).chain(strays).collect())
    }

    fn delete_link(&self, name: &str) -> DpResult<()> {
        let mut s = self.lock();
        s.writes += 1;
        s.stray_links.remove(name);
        s.attachments.remove(name);
        s.networks.remove(name);
        Ok(())
    }

    fn set_dhcp(&self, plan: DhcpPlan) -> DpResult<()> {
        let mut s = self.lock();
        if s.dhcp != plan {
            s.writes += 1;
            s.dhcp = plan;
        }
        Ok(())
    }

    fn apply_firewall(&self, networks: &[weft_firewall::NetworkRules]) -> DpResult<bool> {
        let mut s = self.lock();
        if s.fail_firewall {
            return Err(fail("apply the firewall"));
        }
        if s.firewall == networks {
            return Ok(false);
        }
        s.writes += 1;
        s.firewall = networks.to_vec();
        Ok(true)
    }

    fn apply_bridge_ports(&self, networks: &[weft_firewall::NetworkRules]) -> DpResult<()> {
        self.apply_firewall(networks).map(|_| ())
    }

    fn ensure_services(&self, plan: &ServicesPlan) -> DpResult<()> {
        let mut s = self.lock();
        s.writes += 1;
        if s.fail_services {
            return Err(fail("start DNS"));
        }
        s.services.insert(plan.network.clone(), plan.clone());
        Ok(())
    }

    fn remove_services(&self, network: &str) -> DpResult<()> {
        let mut s = self.lock();
        s.writes += 1;
        s.services.remove(network);
        s.records.retain(|(n, _), _| n != network);
        Ok(())
    }

    fn source_addresses(&self, network: &str, source: &str, label: &str) -> Vec<std::net::IpAddr> {
        self.lock()
            .records
            .get(&(network.into(), source.into()))
            .and_then(|records| records.get(label))
            .cloned()
            .unwrap_or_default()
    }

    fn set_records(&self, network: &str, source: &str, records: Records) -> DpResult<()> {
        let mut s = self.lock();
        s.writes += 1;
        s.records.insert((network.into(), source.into()), records);
        Ok(())
    }
}
