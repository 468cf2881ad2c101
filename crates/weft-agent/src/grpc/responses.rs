//! The agent's views as the wire's messages.

use crate::attachments::AttachmentView;
use crate::health::{Health, Probe};
use crate::networks::NetworkView;
use crate::records::{PeerRecord, Underlay, VtepRecord};
use crate::status::NetworkStatusView;
use std::time::UNIX_EPOCH;
use weft_proto::agent as pb;

pub(super) fn network_pb(v: NetworkView) -> pb::Network {
    let wg = v.record.wireguard.as_ref();
    let vx = v.record.vxlan.as_ref();
    pb::Network {
        vni: vx.map(|x| x.vni).unwrap_or(0),
        vxlan_port: vx.map(|x| u32::from(x.port)).unwrap_or(0),
        mtu: v.record.mtu(),
        vxlan_interface: vx
            .map(|_| weft_model::naming::vxlan_ifname(v.record.index))
            .unwrap_or_default(),
        gateway: v.record.gateway().to_string(),
        underlay: vx.map(|x| underlay_text(&x.underlay)).unwrap_or_default(),
        interface: v.ifname,
        public_key: v.public_key.map(|k| k.to_base64()).unwrap_or_default(),
        listen_port: wg.map(|w| u32::from(w.listen_port)).unwrap_or(0),
        subnet: v.record.subnet.to_string(),
        block: v.record.block.to_string(),
        addresses: vec![v.address.to_string()],
        peer_count: v.peer_count as u32,
        attachment_count: v.attachment_count as u32,
        mode: v.record.mode.to_string(),
        capacity: u64::try_from(v.capacity).unwrap_or(u64::MAX),
        allocated: v.attachment_count as u64,
        internal: v.record.internal,
        domain: v.record.domain.clone(),
        key_since: wg.and_then(|w| w.key_since).unwrap_or(0),
        retiring_public_key: wg
            .and_then(|w| w.retiring_key.as_ref())
            .map(|k| k.public_key().to_base64())
            .unwrap_or_default(),
        name: v.record.name,
    }
}

pub(super) fn peer_pb(p: PeerRecord) -> pb::Peer {
    pb::Peer {
        network: p.network,
        public_key: p.public_key.to_base64(),
        endpoint: p.endpoint,
        allowed_ips: p.allowed_ips.iter().map(ToString::to_string).collect(),
        keepalive: u32::from(p.keepalive),
    }
}

fn underlay_text(underlay: &Underlay) -> String {
    match underlay {
        Underlay::Routed => "routed".into(),
        Underlay::Local(ip) => format!("local:{ip}"),
        Underlay::Device(ifname) => format!("device:{ifname}"),
        Underlay::Over(network) => format!("over:{network}"),
    }
}

/// A VXLAN network's peer: no key, its tunnel endpoint, at most its block.
pub(super) fn vtep_pb(v: VtepRecord) -> pb::Peer {
    pb::Peer {
        network: v.network,
        public_key: String::new(),
        endpoint: v.address.to_string(),
        allowed_ips: v.block.iter().map(ToString::to_string).collect(),
        keepalive: 0,
    }
}

pub(super) fn attachment_pb(v: AttachmentView) -> pb::Attachment {
    let r = v.record;
    let state = v.state.unwrap_or_default();
    // A VM's MAC is weft's, whether or not the TAP is there right now.
    let mac = match r.vm {
        Some(vm) => weft_model::naming::format_mac(vm.mac),
        None => state.mac,
    };
    pb::Attachment {
        kind: if r.is_vm() { "vm" } else { "netns" }.to_string(),
        queues: r.vm.map_or(0, |vm| u32::from(vm.queues)),
        network: r.network,
        id: r.workload_id,
        name: r.name,
        netns: r.netns,
        ifname: r.ifname,
        host_ifname: r.host_ifname,
        address: v.address.to_string(),
        gateway: v.gateway.to_string(),
        mac,
        host_mac: state.host_mac,
        default_route: r.default_route,
        subnet: v.subnet.to_string(),
        mtu: v.mtu,
        dns: Some(pb::Dns {
            nameservers: vec![v.nameserver.to_string()],
            search: vec![v.domain.clone()],
            domain: v.domain,
        }),
    }
}

pub(super) fn status_pb(v: NetworkStatusView) -> pb::NetworkStatus {
    let n = v.network;
    let mut out = pb::NetworkStatus {
        name: n.record.name.clone(),
        interface: n.ifname.clone(),
        public_key: n.public_key.map(|k| k.to_base64()).unwrap_or_default(),
        listen_port: n
            .record
            .wireguard
            .as_ref()
            .map(|w| u32::from(w.listen_port))
            .unwrap_or(0),
        addresses: vec![n.address.to_string()],
        peers: vec![],
        attachment_count: n.attachment_count as u32,
        error: String::new(),
        mode: n.record.mode.to_string(),
    };
    match v.device {
        Ok(None) => {}
        Ok(Some(device)) => {
            // What the data plane says, not what the store says.
            out.listen_port = u32::from(device.listen_port);
            if let Some(key) = device.public_key {
                out.public_key = key.to_base64();
            }
            out.peers = device
                .peers
                .into_iter()
                .map(|p| {
                    let (health, probe) = v
                        .health
                        .get(&p.public_key)
                        .copied()
                        .unwrap_or((Health::Disconnected, Probe::Pending));
                    pb::PeerStatus {
                        public_key: p.public_key.to_base64(),
                        endpoint: p.endpoint.map(|e| e.to_string()).unwrap_or_default(),
                        allowed_ips: p.allowed_ips.iter().map(ToString::to_string).collect(),
                        latest_handshake: p
                            .last_handshake
                            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                            .map(|d| d.as_secs() as i64)
                            .unwrap_or(0),
                        rx_bytes: p.rx_bytes,
                        tx_bytes: p.tx_bytes,
                        keepalive: u32::from(p.persistent_keepalive.unwrap_or(0)),
                        health: health.to_string(),
                        probe: probe.as_str().into(),
                    }
                })
                .collect();
        }
        Err(e) => out.error = e,
    }
    out.peers
        .extend(v.vteps.into_iter().map(|t| pb::PeerStatus {
            endpoint: t.record.address.to_string(),
            allowed_ips: t.record.block.iter().map(ToString::to_string).collect(),
            health: t.health.to_string(),
            probe: t.probe.as_str().into(),
            ..Default::default()
        }));
    out
}
