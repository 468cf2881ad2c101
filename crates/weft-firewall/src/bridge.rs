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
//! The table holds two elements per workload port (its pins, in
//! `port-macs` and `port-ips`) and otherwise changes only with the
//! networks. An attach or detach adds or deletes its port's pins, one small
//! transaction whatever the table holds ([`pins_change`]); any other change
//! — a network with bridge ports added or removed, a table found not as
//! weft left it — makes the table again whole, in one transaction.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::model::NetworkRules;
use crate::table::canonical;

pub(crate) const FAMILY: &str = "bridge";
const TABLE: &str = "weft";
const CHAIN: &str = "prerouting";
const POST_CHAIN: &str = "postrouting";
/// Every port whose far side is workloads: their own ports (by prefix)
/// and VXLAN devices.
const WORKLOAD_PORTS: &str = "workload-ports";
/// The sets holding one element per workload port (its pins): all an
/// attach or detach changes.
pub(crate) const PORT_MACS: &str = "port-macs";
pub(crate) const PORT_IPS: &str = "port-ips";
const PIN_SETS: [&str; 2] = [PORT_MACS, PORT_IPS];
/// nft's `filter` priority for the bridge family.
const PRIORITY: i32 = -200;

/// The batch that makes table `bridge weft` what `networks` need: created
/// afresh (add, delete, add: atomic whether or not it existed), or only
/// deleted when no network has bridge ports.
#[cfg(test)]
pub(crate) fn bridge_batch(networks: &[NetworkRules]) -> Value {
    bridge_table(networks).batch()
}

/// Table `bridge weft` as `networks` need it.
pub(crate) fn bridge_table(networks: &[NetworkRules]) -> BridgeTable {
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
        return BridgeTable {
            has_ports: false,
            skeleton: commands,
            pins: Pins::default(),
        };
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
    commands.push(set(PORT_MACS, json!(["ifname", "ether_addr"]), false));
    commands.push(set(PORT_IPS, json!(["ifname", "ipv4_addr"]), false));
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
    let mut pins = Pins::default();
    for port in bridges.iter().flat_map(|b| b.ports.iter()) {
        pins.insert(
            PORT_MACS,
            json!({"concat": [port.ifname, mac_text(port.mac)]}),
        );
        pins.insert(
            PORT_IPS,
            json!({"concat": [port.ifname, port.ip.to_string()]}),
        );
    }
    for (name, elements) in [
        ("ports", prefixes.into_iter().map(Value::String).collect()),
        (
            WORKLOAD_PORTS,
            workload_ports.into_iter().map(Value::String).collect(),
        ),
        ("local-gateways", gateways),
    ] {
        if !elements.is_empty() {
            commands.push(add_elements(name, elements));
        }
    }
    BridgeTable {
        has_ports: true,
        skeleton: commands,
        pins,
    }
}

/// Table `bridge weft` in two parts: its skeleton — the table, its sets,
/// chains and rules, and the elements every port shares (the prefixes, the
/// VXLAN devices, the gateways), which change only with the networks — and
/// its pins, one element per workload port in `port-macs` and `port-ips`,
/// which change with every attach and detach. While the skeleton stays the
/// same, a change of pins is sent as the elements added and deleted
/// ([`pins_change`], `crate::set_elements`): O(change), whatever the table
/// holds.
#[derive(Clone, Debug)]
pub(crate) struct BridgeTable {
    has_ports: bool,
    skeleton: Vec<Value>,
    pub(crate) pins: Pins,
}

impl BridgeTable {
    /// The skeleton as text: equal text, equal skeleton.
    pub(crate) fn skeleton_text(&self) -> String {
        Value::Array(self.skeleton.clone()).to_string()
    }

    /// Whether the table exists at all (some network has bridge ports).
    pub(crate) fn has_ports(&self) -> bool {
        self.has_ports
    }

    /// The batch that makes the table whole, pins included.
    pub(crate) fn batch(&self) -> Value {
        let mut commands = self.skeleton.clone();
        for (name, elements) in self.pins.sets() {
            if !elements.is_empty() {
                commands.push(add_elements(name, elements.values().cloned().collect()));
            }
        }
        json!({ "nftables": commands })
    }
}

/// The elements of the pin sets, each keyed by its canonical JSON text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pins([BTreeMap<String, Value>; 2]);

impl Pins {
    pub(crate) fn insert(&mut self, set: &str, element: Value) {
        if let Some(i) = PIN_SETS.iter().position(|s| *s == set) {
            self.0[i].insert(canonical(&element), element);
        }
    }

    pub(crate) fn sets(&self) -> impl Iterator<Item = (&'static str, &BTreeMap<String, Value>)> {
        PIN_SETS.into_iter().zip(self.0.iter())
    }

    /// How many ports are pinned (elements of `port-macs`).
    pub(crate) fn len(&self) -> usize {
        self.0[0].len()
    }
}

/// What turns the pins `current` into `wanted`: the pins to delete and
/// the pins to add (a port pinned again to another MAC loses its old pin
/// and gets the new one); `None` when they are equal.
pub(crate) fn pins_change(current: &Pins, wanted: &Pins) -> Option<(Pins, Pins)> {
    let only_in = |a: &Pins, b: &Pins| {
        let mut only = Pins::default();
        for (i, (set, elements)) in a.sets().enumerate() {
            for (key, element) in elements {
                if !b.0[i].contains_key(key) {
                    only.insert(set, element.clone());
                }
            }
        }
        only
    };
    (current != wanted).then(|| (only_in(current, wanted), only_in(wanted, current)))
}

/// What a listing of table `bridge weft` shows: its skeleton (the listing
/// without counter values, nft's metainfo and the pins' elements, as text)
/// and its pins. `""` (no table) is an empty skeleton and no pins; `None`
/// when the listing is not nftables JSON.
pub(crate) fn read_listing(listing: &str) -> Option<(String, Pins)> {
    if listing.trim().is_empty() {
        return Some((String::new(), Pins::default()));
    }
    let mut value: Value = serde_json::from_str(listing).ok()?;
    let items = value.get_mut("nftables")?.as_array_mut()?;
    items.retain(|item| item.get("metainfo").is_none());
    let mut pins = Pins::default();
    for item in items.iter_mut() {
        let Some(set) = item.get_mut("set").and_then(Value::as_object_mut) else {
            continue;
        };
        let name = set.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(name) = PIN_SETS.into_iter().find(|s| *s == name) else {
            continue;
        };
        match set.remove("elem") {
            Some(Value::Array(elements)) => {
                elements.into_iter().for_each(|e| pins.insert(name, e));
            }
            Some(single) => pins.insert(name, single),
            None => {}
        }
    }
    strip_counts(&mut value);
    Some((value.to_string(), pins))
}

/// Counter values move with traffic: a listing compares without them.
fn strip_counts(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(counter) = map.get_mut("counter") {
                *counter = Value::Null;
            }
            map.values_mut().for_each(strip_counts);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_counts),
        _ => {}
    }
}

/// `elements` added to set `name` of table `bridge weft`.
fn add_elements(name: &str, elements: Vec<Value>) -> Value {
    json!({"add": {"element": {
        "family": FAMILY, "table": TABLE, "name": name, "elem": elements}}})
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests;
