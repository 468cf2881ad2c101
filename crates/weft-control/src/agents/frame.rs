//! A tenant's desired state at one revision, for all of its hosts at once
//! (pure): per network its settings and its peer table, the peer table
//! encoded once ([`PeerList`]); per host only which networks it is in and
//! its block there. Built from the store's rows with indexes, in time and
//! memory linear in the rows (hosts × their networks, blocks, keys),
//! never per host × hosts.
//!
//! A host's copy of a network is its own part ([`Placement`]: its block
//! and the NICs of its VMs there) plus the network's shared peer list,
//! itself included: agents ignore the peer entry naming them, so the list
//! is the same bytes for every member.

use crate::model::{Host, HostBlock, HostId, HostKey, Network, Vm};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use weft_proto::control as pb;
use weft_proto::encoded::PeerList;

/// `host` as a peer in a network where it has `block` and reported `key`;
/// `None` until it has an address (and for a revoked host).
pub fn peer(host: &Host, key: &HostKey, block: &ipnet::IpNet) -> Option<pb::DesiredPeer> {
    if host.revoked_at.is_some() {
        return None;
    }
    let ip = host.endpoint.as_ref()?;
    let endpoint = match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => format!("{v4}:{}", key.key.listen_port),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{}", key.key.listen_port),
    };
    Some(pb::DesiredPeer {
        host_id: host.id.to_string(),
        host_name: host.name.clone(),
        public_key: key.key.public_key.clone(),
        endpoint,
        allowed_ips: vec![block.to_string()],
    })
}

/// `host` as a tunnel endpoint (VTEP) of a VXLAN network where it has
/// `block`: at its underlay address, or, for a network riding in another
/// (`over`: `Some` of the host's block there, if it has one), at its
/// address in that one — what `weft peer add NET --endpoint IP
/// --allowed-ips BLOCK` gives by hand. `None` until it has that address
/// (and for a revoked host).
pub fn vtep(
    host: &Host,
    block: &ipnet::IpNet,
    over: Option<Option<&ipnet::IpNet>>,
) -> Option<pb::DesiredPeer> {
    if host.revoked_at.is_some() {
        return None;
    }
    let endpoint = match over {
        None => host.endpoint.as_ref()?.parse::<std::net::IpAddr>().ok()?,
        Some(carrier) => weft_model::naming::host_address(carrier?),
    };
    Some(pb::DesiredPeer {
        host_id: host.id.to_string(),
        host_name: host.name.clone(),
        public_key: String::new(),
        endpoint: endpoint.to_string(),
        allowed_ips: vec![block.to_string()],
    })
}

/// A network's settings as its hosts are told them (`block` and `peers`
/// left empty).
pub fn settings(net: &Network) -> pb::DesiredNetwork {
    let vx = net.spec.vxlan.as_ref();
    pb::DesiredNetwork {
        name: net.spec.name.clone(),
        subnet: net.spec.subnet.to_string(),
        block: String::new(),
        internal: net.spec.internal,
        domain: net.spec.domain.clone(),
        peers: vec![],
        mode: match vx {
            Some(_) => net.spec.mode.as_str().to_string(),
            None => String::new(),
        },
        vni: vx.and_then(|v| v.vni).unwrap_or_default(),
        mtu: vx.and_then(|v| v.mtu).unwrap_or_default(),
        over: vx.and_then(|v| v.over.clone()).unwrap_or_default(),
        vm_nics: vec![],
    }
}

/// NIC `index` of `vm` as its host is told it.
pub fn vm_nic(vm: &Vm, index: usize) -> Option<pb::DesiredVmNic> {
    let nic = vm.spec.nics.get(index)?;
    Some(pb::DesiredVmNic {
        vm: vm.spec.id.clone(),
        ip: nic.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        index: u32::try_from(index).unwrap_or(u32::MAX),
        run: (vm.spec.run.as_ref())
            .filter(|_| index == 0)
            .map(|run| pb::DesiredVmRun {
                kernel: run.kernel.clone(),
                initrd: run.initrd.clone().unwrap_or_default(),
                rootfs: run.rootfs.clone().unwrap_or_default(),
                cmdline: run.cmdline.clone().unwrap_or_default(),
                memory: run.memory,
                vcpus: run.vcpus,
                hypervisor: run.hypervisor.to_string(),
            }),
    })
}

/// `host`'s entry in network `net`'s peer table, where it has `block`:
/// with its `key` there (WireGuard), or as a tunnel endpoint (VXLAN,
/// `block_in` giving its block in another network of the tenant).
pub fn member<'a>(
    net: &Network,
    host: &Host,
    block: &ipnet::IpNet,
    key: Option<&HostKey>,
    block_in: impl Fn(&str) -> Option<&'a ipnet::IpNet>,
) -> Option<pb::DesiredPeer> {
    match &net.spec.vxlan {
        None => peer(host, key?, block),
        Some(vx) => vtep(host, block, vx.over.as_deref().map(block_in)),
    }
}

/// One network of the tenant.
#[derive(Debug, PartialEq)]
pub struct NetTable {
    /// Name, subnet, internal, domain; `block` and `peers` left empty.
    pub settings: pb::DesiredNetwork,
    /// Host id → that host as a peer (members with a key and an address).
    pub peers: BTreeMap<String, pb::DesiredPeer>,
    /// `peers`, encoded once for every member's copy.
    pub encoded: PeerList,
}

/// A host's own part of a network: its block and its VMs' NICs there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub block: String,
    /// By VM id, then index.
    pub vm_nics: Vec<pb::DesiredVmNic>,
}

impl Placement {
    /// The network's `settings` as this host gets them.
    pub fn apply(&self, settings: &pb::DesiredNetwork) -> pb::DesiredNetwork {
        pb::DesiredNetwork {
            block: self.block.clone(),
            vm_nics: self.vm_nics.clone(),
            ..settings.clone()
        }
    }
}

/// One live host of the tenant: network name → its part there.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HostView {
    pub networks: BTreeMap<String, Placement>,
}

/// Every network and every live host of a tenant at one revision.
#[derive(Debug, Default)]
pub struct Tables {
    pub networks: HashMap<String, Arc<NetTable>>,
    pub hosts: HashMap<HostId, HostView>,
}

/// How many peer lists [`Tables::build`] encoded (the others were the
/// previous frame's, unchanged).
pub type Encoded = u64;

impl Tables {
    /// The tables for these rows; a network whose peers are those of
    /// `prev` keeps `prev`'s encoding.
    pub fn build(
        networks: &[Network],
        blocks: &[HostBlock],
        keys: &[HostKey],
        hosts: &[Host],
        vms: &[Vm],
        prev: Option<&Tables>,
    ) -> (Tables, Encoded) {
        let live: HashMap<&HostId, &Host> = hosts
            .iter()
            .filter(|h| h.revoked_at.is_none())
            .map(|h| (&h.id, h))
            .collect();
        let keys: HashMap<(&str, &HostId), &HostKey> = keys
            .iter()
            .map(|k| ((k.key.network.as_str(), &k.host), k))
            .collect();
        let mut tables = Tables {
            networks: HashMap::with_capacity(networks.len()),
            hosts: live
                .keys()
                .map(|id| ((*id).clone(), HostView::default()))
                .collect(),
        };
        let mut peers: HashMap<&str, BTreeMap<String, pb::DesiredPeer>> = networks
            .iter()
            .map(|n| (n.spec.name.as_str(), BTreeMap::new()))
            .collect();
        let by_name: HashMap<&str, &Network> =
            networks.iter().map(|n| (n.spec.name.as_str(), n)).collect();
        let placed: HashMap<(&str, &HostId), &ipnet::IpNet> = blocks
            .iter()
            .map(|b| ((b.network.as_str(), &b.host), &b.block))
            .collect();
        for b in blocks {
            let (Some(host), Some(net_peers), Some(net)) = (
                live.get(&b.host),
                peers.get_mut(b.network.as_str()),
                by_name.get(b.network.as_str()),
            ) else {
                continue;
            };
            if let Some(view) = tables.hosts.get_mut(&b.host) {
                let place = Placement {
                    block: b.block.to_string(),
                    vm_nics: vec![],
                };
                view.networks.insert(b.network.clone(), place);
            }
            let key = keys.get(&(b.network.as_str(), &b.host)).copied();
            let block_in = |other: &str| placed.get(&(other, &b.host)).copied();
            if let Some(peer) = member(net, host, &b.block, key, block_in) {
                net_peers.insert(peer.host_id.clone(), peer);
            }
        }
        // A VM's NICs on the networks its host is in (the others wait
        // until it is: a host that left a network has none of its NICs).
        for vm in vms {
            let Some(view) = tables.hosts.get_mut(&vm.spec.host) else {
                continue;
            };
            for (index, nic) in vm.spec.nics.iter().enumerate() {
                if let (Some(place), Some(want)) =
                    (view.networks.get_mut(&nic.network), vm_nic(vm, index))
                {
                    place.vm_nics.push(want);
                }
            }
        }
        for view in tables.hosts.values_mut() {
            for place in view.networks.values_mut() {
                place
                    .vm_nics
                    .sort_by(|a, b| (&a.vm, a.index).cmp(&(&b.vm, b.index)));
            }
        }
        let mut encoded = 0;
        for net in networks {
            let name = &net.spec.name;
            let peers = peers.remove(name.as_str()).unwrap_or_default();
            let settings = settings(net);
            let old = prev.and_then(|p| p.networks.get(name));
            let table = match old {
                Some(old) if old.settings == settings && old.peers == peers => Arc::clone(old),
                Some(old) if old.peers == peers => Arc::new(NetTable {
                    settings,
                    peers,
                    encoded: old.encoded.clone(),
                }),
                _ => {
                    encoded += 1;
                    Arc::new(NetTable {
                        settings,
                        encoded: PeerList::encode(peers.values()),
                        peers,
                    })
                }
            };
            tables.networks.insert(name.clone(), table);
        }
        (tables, encoded)
    }

    /// `host`'s copy of `network`, as its agent ends up with it (its own
    /// entry dropped): what tests compare with `desired::desired_for`.
    #[cfg(test)]
    pub fn desired(&self, host: &HostId) -> Option<weft_proto::desired::Desired> {
        let view = self.hosts.get(host)?;
        let own = host.as_str();
        Some(
            view.networks
                .iter()
                .filter_map(|(name, place)| {
                    let table = self.networks.get(name)?;
                    let net = pb::DesiredNetwork {
                        peers: (table.peers.values())
                            .filter(|p| p.host_id != own)
                            .cloned()
                            .collect(),
                        ..place.apply(&table.settings)
                    };
                    Some((name.clone(), net))
                })
                .collect(),
        )
    }
}
