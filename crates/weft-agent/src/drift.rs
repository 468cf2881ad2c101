//! Drift: what differs between what the agent made and what the host holds
//! now. Pure — the kernel is read in `linux/` (into a [`HostView`]) and
//! through the WireGuard backend (a [`DeviceInfo`]); `repair.rs` acts on the
//! differences. Only objects that carry weft's mark are looked at: a
//! network's interface under its recorded name, an attachment's host link
//! under its recorded name, the peers of weft's own WireGuard devices and
//! the flooding entries of its own VXLAN devices.

use crate::dataplane::{
    AttachmentPlan, HostView, LinkView, NetworkKind, NetworkPlan, TUNNEL_MTU, VxlanPlan,
};
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};
use weft_model::PublicKey;
use weft_model::addressing::single;
use weft_model::naming::network_alias;
use weft_wg::{DeviceInfo, PeerConfig, PeerInfo};

/// A peer that completed a handshake this recently has proven the endpoint
/// it is reached on: WireGuard moves a peer's endpoint to wherever its
/// authenticated packets come from (roaming, NAT rebinding), so such an
/// endpoint is not drift. WireGuard re-keys every two minutes while traffic
/// flows; a session older than this is idle or dead.
pub const FRESH_HANDSHAKE: Duration = Duration::from_secs(180);

/// One thing that is not as weft made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drift {
    /// The network's interface is gone.
    InterfaceMissing,
    /// The network's interface is there but not as made (what is wrong).
    Interface(String),
    PrivateKey,
    ListenPort {
        want: u16,
        have: u16,
    },
    PeerMissing(PublicKey),
    /// A peer weft did not make.
    PeerRogue(PublicKey),
    /// A peer of weft's with a setting changed (which, and how).
    PeerChanged {
        key: PublicKey,
        what: String,
    },
    /// A VTEP of a VXLAN network has no flooding entry.
    FdbMissing(IpAddr),
    /// A flooding entry for an address that is no VTEP of the network.
    FdbStale(IpAddr),
    /// The attachment's veth is gone.
    AttachmentMissing,
    /// The attachment's veth is there but not as made (what is wrong).
    Attachment(String),
}

impl Drift {
    /// The label of the repair counter.
    pub fn kind(&self) -> &'static str {
        match self {
            Drift::InterfaceMissing => "interface_missing",
            Drift::Interface(_) => "interface",
            Drift::PrivateKey => "private_key",
            Drift::ListenPort { .. } => "listen_port",
            Drift::PeerMissing(_) => "peer_missing",
            Drift::PeerRogue(_) => "peer_rogue",
            Drift::PeerChanged { .. } => "peer_changed",
            Drift::FdbMissing(_) => "fdb_missing",
            Drift::FdbStale(_) => "fdb_stale",
            Drift::AttachmentMissing => "attachment_missing",
            Drift::Attachment(_) => "attachment",
        }
    }

    /// Every kind of repair, for the metrics (each shown from 0): the
    /// drifts', links with weft's mark that belong to nothing, and table
    /// `inet weft` put back.
    pub const KINDS: [&'static str; 13] = [
        "interface_missing",
        "interface",
        "private_key",
        "listen_port",
        "peer_missing",
        "peer_rogue",
        "peer_changed",
        "fdb_missing",
        "fdb_stale",
        "attachment_missing",
        "attachment",
        "orphan_link",
        "firewall",
    ];

    /// Whether only the whole interface's set-up repairs it (peers alone
    /// are re-synced without touching the rest).
    pub fn needs_interface(&self) -> bool {
        matches!(
            self,
            Drift::InterfaceMissing
                | Drift::Interface(_)
                | Drift::PrivateKey
                | Drift::ListenPort { .. }
        )
    }

    /// What the repair did, for the log line.
    pub fn repair(&self) -> &'static str {
        match self {
            Drift::InterfaceMissing | Drift::AttachmentMissing => "re-created",
            Drift::Interface(_) | Drift::PrivateKey | Drift::ListenPort { .. } => "restored",
            Drift::PeerMissing(_) | Drift::FdbMissing(_) => "re-added",
            Drift::PeerRogue(_) | Drift::FdbStale(_) => "removed",
            Drift::PeerChanged { .. } => "restored",
            Drift::Attachment(_) => "re-created",
        }
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::InterfaceMissing => write!(f, "interface missing"),
            Drift::Interface(what) => write!(f, "interface {what}"),
            Drift::PrivateKey => write!(f, "private key changed"),
            Drift::ListenPort { want, have } => {
                write!(f, "listen port {have} (weft's is {want})")
            }
            Drift::PeerMissing(key) => write!(f, "peer {key} missing"),
            Drift::PeerRogue(key) => write!(f, "peer {key} not weft's"),
            Drift::PeerChanged { key, what } => write!(f, "peer {key} {what}"),
            Drift::FdbMissing(vtep) => write!(f, "FDB entry for VTEP {vtep} missing"),
            Drift::FdbStale(dst) => write!(f, "FDB entry for {dst} not weft's"),
            Drift::AttachmentMissing => write!(f, "veth missing"),
            Drift::Attachment(what) => write!(f, "veth {what}"),
        }
    }
}

/// How the network's interface, WireGuard device and peers differ from
/// `plan`. `device` is the live WireGuard state (None: unreadable, or not
/// a WireGuard network).
pub fn network_drift(
    plan: &NetworkPlan,
    host: &HostView,
    device: Option<&DeviceInfo>,
    now: SystemTime,
) -> Vec<Drift> {
    let Some(link) = host.links.get(&plan.ifname) else {
        return vec![Drift::InterfaceMissing];
    };
    let mut drift = vec![];
    let alias = network_alias(&plan.name);
    if link.alias.as_deref() != Some(alias.as_str()) {
        drift.push(Drift::Interface(format!(
            "alias {:?} (weft's is {alias:?})",
            link.alias.as_deref().unwrap_or_default()
        )));
    }
    if !link.up {
        drift.push(Drift::Interface("down".into()));
    }
    if !link.addresses.contains(&plan.address) {
        drift.push(Drift::Interface(format!("lacks address {}", plan.address)));
    }
    if let NetworkKind::Vxlan(vx) = &plan.kind {
        drift.extend(vxlan_drift(plan, vx, link, host));
        return drift;
    }
    let NetworkKind::Wireguard {
        private_key,
        listen_port,
        peers,
        ..
    } = &plan.kind
    else {
        return drift;
    };
    if link.mtu != TUNNEL_MTU {
        drift.push(Drift::Interface(format!(
            "MTU {} (weft's is {TUNNEL_MTU})",
            link.mtu
        )));
    }
    if !host.has_route(plan.subnet, &plan.ifname) {
        drift.push(Drift::Interface(format!("lacks route {}", plan.subnet)));
    }
    let Some(device) = device else {
        drift.push(Drift::Interface("has no readable WireGuard device".into()));
        return drift;
    };
    if device.public_key != Some(private_key.public_key()) {
        drift.push(Drift::PrivateKey);
    }
    if device.listen_port != *listen_port {
        drift.push(Drift::ListenPort {
            want: *listen_port,
            have: device.listen_port,
        });
    }
    for want in peers {
        match device.peer(&want.public_key) {
            None => drift.push(Drift::PeerMissing(want.public_key)),
            Some(have) => {
                drift.extend(peer_drift(want, have, now).map(|what| Drift::PeerChanged {
                    key: want.public_key,
                    what,
                }))
            }
        }
    }
    for have in &device.peers {
        if !peers.iter().any(|p| p.public_key == have.public_key) {
            drift.push(Drift::PeerRogue(have.public_key));
        }
    }
    drift
}

/// How a VXLAN network's bridge (`bridge`), VXLAN device and flooding
/// entries differ from the plan.
fn vxlan_drift(
    plan: &NetworkPlan,
    vx: &VxlanPlan,
    bridge: &LinkView,
    host: &HostView,
) -> Vec<Drift> {
    let mut drift = vec![];
    if !bridge.addresses.contains(&vx.gateway) {
        drift.push(Drift::Interface(format!("lacks gateway {}", vx.gateway)));
    }
    if bridge.mtu != vx.mtu {
        drift.push(Drift::Interface(format!(
            "MTU {} (weft's is {})",
            bridge.mtu, vx.mtu
        )));
    }
    let Some(device) = host.links.get(&vx.ifname) else {
        drift.push(Drift::Interface(format!(
            "VXLAN device {} missing",
            vx.ifname
        )));
        return drift;
    };
    let alias = network_alias(&plan.name);
    if device.alias.as_deref() != Some(alias.as_str()) || !device.up {
        drift.push(Drift::Interface(format!(
            "VXLAN device {} down or not marked",
            vx.ifname
        )));
    }
    if device.master.as_deref() != Some(plan.ifname.as_str()) {
        drift.push(Drift::Interface(format!(
            "VXLAN device {} not a port of it",
            vx.ifname
        )));
    }
    let have = host
        .fdb
        .get(&vx.ifname)
        .map(Vec::as_slice)
        .unwrap_or_default();
    drift.extend(
        vx.remotes
            .iter()
            .filter(|r| !have.contains(r))
            .map(|r| Drift::FdbMissing(*r)),
    );
    drift.extend(
        have.iter()
            .filter(|h| !vx.remotes.contains(h))
            .map(|h| Drift::FdbStale(*h)),
    );
    drift
}

/// What differs in one peer's settings, if anything.
fn peer_drift(want: &PeerConfig, have: &PeerInfo, now: SystemTime) -> Option<String> {
    let mut what = vec![];
    // WireGuard keeps networks, not the host bits they were given with.
    let sorted = |ips: &[IpNet]| {
        let mut ips: Vec<IpNet> = ips.iter().map(IpNet::trunc).collect();
        ips.sort();
        ips.dedup();
        ips
    };
    if sorted(&want.allowed_ips) != sorted(&have.allowed_ips) {
        what.push(format!(
            "allowed-ips {} (weft's are {})",
            list(&have.allowed_ips),
            list(&want.allowed_ips)
        ));
    }
    let keepalive = |k: Option<u16>| k.unwrap_or(0);
    if keepalive(want.persistent_keepalive) != keepalive(have.persistent_keepalive) {
        what.push(format!(
            "keepalive {} (weft's is {})",
            keepalive(have.persistent_keepalive),
            keepalive(want.persistent_keepalive)
        ));
    }
    let fresh = have
        .last_handshake
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|age| age < FRESH_HANDSHAKE);
    // An endpoint that no longer resolves is not set (see `plan.rs`), so
    // there is nothing to compare with.
    if let Some(endpoint) = want.endpoint
        && have.endpoint != Some(endpoint)
        && !fresh
    {
        what.push(format!(
            "endpoint {} (weft's is {endpoint})",
            have.endpoint
                .map_or("none".into(), |e: SocketAddr| e.to_string())
        ));
    }
    (!what.is_empty()).then(|| what.join(", "))
}

fn list(ips: &[IpNet]) -> String {
    if ips.is_empty() {
        return "none".into();
    }
    ips.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// How an attachment's host side differs from `plan`. Inside the
/// workload's namespace is not looked at on every pass (that would enter
/// every namespace every few seconds): deleting either end of a veth
/// deletes both, so the host side shows a deleted veth.
pub fn attachment_drift(plan: &AttachmentPlan, host: &HostView) -> Option<Drift> {
    let Some(link) = host.links.get(&plan.host_ifname) else {
        return Some(Drift::AttachmentMissing);
    };
    let alias = plan.alias();
    if link.alias.as_deref() != Some(alias.as_str()) {
        return Some(Drift::Attachment(format!(
            "alias {:?} (weft's is {alias:?})",
            link.alias.as_deref().unwrap_or_default()
        )));
    }
    if !link.up {
        return Some(Drift::Attachment("down".into()));
    }
    match &plan.bridge {
        Some(bridge) if link.master.as_ref() != Some(bridge) => {
            Some(Drift::Attachment(format!("not a port of {bridge}")))
        }
        Some(_) => None,
        None => {
            let route = single(plan.address.addr());
            (!host.has_route(route, &plan.host_ifname))
                .then(|| Drift::Attachment(format!("lacks route {route}")))
        }
    }
}
