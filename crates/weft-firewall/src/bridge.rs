//! Table `bridge weft`: on a bridge network a workload sends only from its
//! own MAC and address. Frames between two ports of one bridge never reach
//! the `inet` hooks, so this check lives in the bridge family: each
//! workload port is pinned to its MAC (every frame) and its address (IPv4
//! and ARP), and a port named like a workload's that is not (yet) pinned
//! carries nothing. A VM's DHCP request, sent before it has an address,
//! passes once its MAC has been checked. No workload answers DHCP or
//! advertises itself as an IPv6 router (see the `rogue_servers` module):
//! not from its own port, nor from a VXLAN device, which brings other
//! hosts' workloads' frames.
//!
//! ```text
//! table bridge weft {
//!   set ports     { type ifname; flags interval }     prefixes ("fn-*")
//!   set port-macs { type ifname . ether_addr }        port . MAC
//!   set port-ips  { type ifname . ipv4_addr }         port . address
//!   set workload-ports { type ifname; flags interval } prefixes, VXLAN devices
//!   # with VXLAN networks only:
//!   set local-gateways { type ifname . ipv4_addr }    VXLAN device . gateway
//!   chain prerouting {    # filter hook prerouting, policy accept
//!     iifname @ports iifname . ether saddr != @port-macs counter drop
//!     ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp dport 67 accept
//!     iifname @ports iifname . ip saddr != @port-ips counter drop
//!     iifname @ports iifname . arp saddr ip != @port-ips counter drop
//!     udp dport { 68, 546 } iifname @workload-ports counter drop
//!     icmpv6 type nd-router-advert iifname @workload-ports counter drop
//!     iifname . arp saddr ip @local-gateways counter drop
//!     iifname . arp daddr ip @local-gateways counter drop
//!   }
//!   chain postrouting {   # filter hook postrouting, policy accept
//!     oifname . arp saddr ip @local-gateways counter drop
//!     oifname . arp daddr ip @local-gateways counter drop
//!   }
//! }
//! ```
//!
//! The gateway rules serve VXLAN networks, whose every host carries the
//! same gateway address: ARP asking for it or announcing it neither enters
//! nor leaves through the VXLAN device, so a workload always resolves its
//! gateway to its own host's bridge, and no host ever learns another's
//! gateway MAC. (The alternative, one gateway MAC on every host, would have
//! each bridge see its own MAC arrive from the VXLAN port.)
//!
//! The table is small (an element or two per workload on a bridge) and is
//! replaced whole, in one transaction, when it changes.

use serde_json::{Value, json};

use crate::model::NetworkRules;

pub(crate) const FAMILY: &str = "bridge";
const TABLE: &str = "weft";
const CHAIN: &str = "prerouting";
const POST_CHAIN: &str = "postrouting";
/// Every port whose far side is workloads: their own ports (by prefix)
/// and VXLAN devices.
const WORKLOAD_PORTS: &str = "workload-ports";
/// nft's `filter` priority for the bridge family.
const PRIORITY: i32 = -200;

/// Whether `networks` need table `bridge weft` at all.
pub(crate) fn has_ports(networks: &[NetworkRules]) -> bool {
    networks.iter().any(|n| n.bridge_ports.is_some())
}

/// The batch that makes table `bridge weft` what `networks` need: created
/// afresh (add, delete, add: atomic whether or not it existed), or only
/// deleted when no network has bridge ports.
pub(crate) fn bridge_batch(networks: &[NetworkRules]) -> Value {
    let table = json!({"family": FAMILY, "name": TABLE});
    let mut commands = vec![
        json!({"add": {"table": table}}),
        json!({"delete": {"table": table}}),
    ];
    let bridges: Vec<_> = networks
        .iter()
        .filter_map(|n| n.bridge_ports.as_ref())
        .collect();
    if bridges.is_empty() {
        return json!({"nftables": commands});
    }
    commands.push(json!({"add": {"table": table}}));
    let mut prefixes: Vec<String> = bridges.iter().map(|b| format!("{}*", b.prefix)).collect();
    prefixes.sort();
    prefixes.dedup();
    let set = |name: &str, kind: Value, interval: bool| {
        let mut set = json!({"family": FAMILY, "table": TABLE, "name": name, "type": kind});
        if interval {
            set["flags"] = json!(["interval"]);
        }
        json!({"add": {"set": set}})
    };
    commands.push(set("ports", json!("ifname"), true));
    commands.push(set("port-macs", json!(["ifname", "ether_addr"]), false));
    commands.push(set("port-ips", json!(["ifname", "ipv4_addr"]), false));
    commands.push(set(WORKLOAD_PORTS, json!("ifname"), true));
    commands.push(json!({"add": {"chain": {
        "family": FAMILY, "table": TABLE, "name": CHAIN, "type": "filter",
        "hook": "prerouting", "prio": PRIORITY, "policy": "accept"}}}));
    for (field, set) in [
        (
            json!({"payload": {"protocol": "ether", "field": "saddr"}}),
            "@port-macs",
        ),
        (
            json!({"payload": {"protocol": "ip", "field": "saddr"}}),
            "@port-ips",
        ),
        (
            json!({"payload": {"protocol": "arp", "field": "saddr ip"}}),
            "@port-ips",
        ),
    ] {
        let expr = json!([
            {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "@ports"}},
            {"match": {"op": "!=", "left": {"concat": [{"meta": {"key": "iifname"}}, field]},
                       "right": set}},
            crate::nft_json::counter(),
            {"drop": null}
        ]);
        commands.push(json!({"add": {"rule": {
            "family": FAMILY, "table": TABLE, "chain": CHAIN, "expr": expr}}}));
        if set == "@port-macs" {
            let mut dhcp = crate::ruleset::dhcp_discovery_match();
            dhcp.push(json!({"accept": null}));
            commands.push(json!({"add": {"rule": {
                "family": FAMILY, "table": TABLE, "chain": CHAIN, "expr": dhcp}}}));
        }
    }
    // The drops of what only a DHCP server or a router sends: what the
    // frame carries is matched first, so every other frame (nearly all)
    // costs a compare or two, never a lookup in the interval set.
    for what in [
        crate::rogue_servers::to_dhcp_client(),
        crate::rogue_servers::router_advertisement(),
    ] {
        let expr = json!([
            what,
            {"match": {"op": "==", "left": {"meta": {"key": "iifname"}},
                       "right": format!("@{WORKLOAD_PORTS}")}},
            crate::nft_json::counter(),
            {"drop": null}
        ]);
        commands.push(json!({"add": {"rule": {
            "family": FAMILY, "table": TABLE, "chain": CHAIN, "expr": expr}}}));
    }
    let gateways: Vec<Value> = bridges
        .iter()
        .filter_map(|b| b.local_gateway.as_ref())
        .map(|g| json!({"concat": [g.port, g.ip.to_string()]}))
        .collect();
    // Only VXLAN networks need these: a host with bridges alone keeps the
    // table it always had.
    if !gateways.is_empty() {
        commands.push(set("local-gateways", json!(["ifname", "ipv4_addr"]), false));
        commands.push(json!({"add": {"chain": {
            "family": FAMILY, "table": TABLE, "name": POST_CHAIN, "type": "filter",
            "hook": "postrouting", "prio": PRIORITY, "policy": "accept"}}}));
        for (chain, key) in [(CHAIN, "iifname"), (POST_CHAIN, "oifname")] {
            for field in ["saddr ip", "daddr ip"] {
                let expr = json!([
                    {"match": {"op": "==",
                               "left": {"concat": [{"meta": {"key": key}},
                                                   {"payload": {"protocol": "arp", "field": field}}]},
                               "right": "@local-gateways"}},
                    crate::nft_json::counter(),
                    {"drop": null}
                ]);
                commands.push(json!({"add": {"rule": {
                    "family": FAMILY, "table": TABLE, "chain": chain, "expr": expr}}}));
            }
        }
    }
    // Workload ports by their prefixes, and every VXLAN device.
    let mut workload_ports = prefixes.clone();
    workload_ports.extend(
        bridges
            .iter()
            .filter_map(|b| Some(b.local_gateway.as_ref()?.port.clone())),
    );
    workload_ports.sort();
    workload_ports.dedup();
    let ports = bridges.iter().flat_map(|b| b.ports.iter());
    let macs: Vec<Value> = ports
        .clone()
        .map(|p| json!({"concat": [p.ifname, mac_text(p.mac)]}))
        .collect();
    let ips: Vec<Value> = ports
        .map(|p| json!({"concat": [p.ifname, p.ip.to_string()]}))
        .collect();
    for (name, elements) in [
        ("ports", prefixes.into_iter().map(Value::String).collect()),
        ("port-macs", macs),
        ("port-ips", ips),
        (
            WORKLOAD_PORTS,
            workload_ports.into_iter().map(Value::String).collect(),
        ),
        ("local-gateways", gateways),
    ] {
        if !elements.is_empty() {
            commands.push(json!({"add": {"element": {
                "family": FAMILY, "table": TABLE, "name": name, "elem": elements}}}));
        }
    }
    json!({"nftables": commands})
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests;
