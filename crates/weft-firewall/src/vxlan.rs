//! VXLAN only from the VTEPs weft configured: table `inet weft`'s part
//! that judges packets to a VXLAN network's UDP port.
//!
//! Why a rule is needed at all: a VXLAN device's socket is the kernel's,
//! bound to the port on every address of the host (`0.0.0.0:4789`), and
//! the kernel takes an encapsulated frame from anyone who sends one with
//! the device's VNI; the FDB only says where frames *go*. So a stranger on
//! the underlay could put frames (a gratuitous ARP, say) on the segment,
//! and on a network carried inside WireGuard (`--over`) the same packet,
//! sent to the host's underlay address instead of through the tunnel,
//! would skip WireGuard's authentication altogether.
//!
//! ```text
//! set vxlan-ports { type inet_service }               P(every VXLAN V)
//! chain input {                    # the first rule of the base chain
//!   udp dport @vxlan-ports jump vxlan-in
//!   …
//! }
//! chain vxlan-in {
//!   exthdr frag exists counter drop                  (IPv6: see below)
//!   udp dport P(V) @th,96,24 VNI(V) jump vxlan-from-V  (one per VXLAN V)
//! }
//! chain vxlan-from-V {
//!   [iifname O(V)] ip saddr T4(V) return     O: --over's WireGuard interface
//!   [iifname O(V)] ip6 saddr T6(V) return    T: V's remote VTEPs
//!   counter drop
//! }
//! ```
//!
//! A packet is judged by the network its port and VNI (`@th,96,24`: the
//! 24 bits after the VXLAN header's flags) say it is for, so two networks
//! sharing port 4789 — one plain, one `--over` — never vouch for each
//! other's senders. A packet with a port and VNI of no weft network is
//! not weft's and is left alone (the kernel drops an unknown VNI itself).
//! Rules only drop or return: what passes goes on to the network's own
//! input chain, and the host's other tables still judge it.
//!
//! The input hook must see a datagram whole. IPv4 is reassembled before
//! it; IPv6 only by connection tracking, which weft's table always turns
//! on (internal networks' `ct state`, the others' nat chain). Were it off,
//! a first fragment that stops after the UDP header would hide the VNI
//! from the rule and bring its VXLAN header in a later fragment: so an
//! IPv6 fragment that reaches the hook still a fragment is dropped. VTEPs
//! do not fragment (RFC 7348, and weft sizes the MTU for it); later
//! fragments carry no port and are never reassembled without their first.
//!
//! What this does and does not give a plain (not `--over`) network: a
//! host that is not a VTEP cannot inject frames — unless it can forge a
//! VTEP's source address on the underlay (the same L2 segment, or any
//! path without source address validation). Plain VXLAN carries frames in
//! the clear and unauthenticated; only `--over` makes the segment
//! authenticated and encrypted, because then only WireGuard's interface,
//! whose peers' addresses are bound to their keys, delivers its packets.
//!
//! The VTEP sets are anonymous sets inside each network's chain (sorted,
//! one element listed as a plain address, as nft lists them): a VTEP added
//! or removed rewrites that network's chain only.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::model::{NetworkRules, VxlanSources};
use crate::nft_json::{counter, raw_rule};
use crate::table::Table;

/// The UDP ports of every VXLAN network on the host.
pub const VXLAN_PORTS: &str = "vxlan-ports";
/// The chain that sends a VXLAN packet to its network's check.
pub const VXLAN_IN: &str = "vxlan-in";

/// The chain that judges the senders of VXLAN network `network`'s packets.
pub fn vxlan_chain_name(network: &str) -> String {
    format!("vxlan-from-{network}")
}

/// The set of VXLAN ports: a plain set (an interval set would list two
/// adjacent ports as one range).
pub(crate) fn add_ports_set(table: &mut Table, networks: &[NetworkRules]) {
    let mut ports: Vec<u16> = networks
        .iter()
        .filter_map(|n| Some(n.vxlan.as_ref()?.port))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    table.add_set(
        "set",
        json!({
            "family": crate::ruleset::FAMILY_KEYWORD,
            "table": crate::ruleset::TABLE,
            "name": VXLAN_PORTS,
            "type": "inet_service",
        }),
        ports.into_iter().map(|p| json!(p)).collect(),
    );
}

/// `udp dport @vxlan-ports jump vxlan-in`: the input chain's first rule.
pub(crate) fn dispatch(chain: &str) -> Value {
    raw_rule(
        chain,
        vec![
            udp_dport(json!(format!("@{VXLAN_PORTS}"))),
            json!({"jump": {"target": VXLAN_IN}}),
        ],
    )
}

/// Chain `vxlan-in` and each VXLAN network's `vxlan-from-N`.
pub(crate) fn add_chains(table: &mut Table, networks: &[NetworkRules]) {
    let mut rules = vec![raw_rule(
        VXLAN_IN,
        vec![
            json!({"match": {"op": "==", "left": {"exthdr": {"name": "frag"}}, "right": true}}),
            counter(),
            json!({"drop": null}),
        ],
    )];
    for net in networks {
        let Some(vxlan) = &net.vxlan else { continue };
        let chain = vxlan_chain_name(&net.name);
        rules.push(raw_rule(
            VXLAN_IN,
            vec![
                udp_dport(json!(vxlan.port)),
                json!({"match": {"op": "==", "left": {"payload": {"base": "th", "offset": 96, "len": 24}}, "right": vxlan.vni}}),
                json!({"jump": {"target": chain}}),
            ],
        ));
        table.add_chain(
            crate::nft_json::regular_chain(&chain),
            senders(&chain, vxlan),
        );
    }
    table.add_chain(crate::nft_json::regular_chain(VXLAN_IN), rules);
}

/// The rules of `vxlan-from-N`: return for its VTEPs (through its
/// WireGuard interface when it has one), drop the rest.
fn senders(chain: &str, vxlan: &VxlanSources) -> Vec<Value> {
    let mut rules = Vec::new();
    for (protocol, of_family) in [
        ("ip", IpAddr::is_ipv4 as fn(&IpAddr) -> bool),
        ("ip6", IpAddr::is_ipv6),
    ] {
        let mut vteps: Vec<IpAddr> = vxlan.vteps.iter().copied().filter(of_family).collect();
        vteps.sort_unstable();
        vteps.dedup();
        let right = match vteps.as_slice() {
            [] => continue,
            [one] => json!(one.to_string()),
            many => json!({"set": many.iter().map(ToString::to_string).collect::<Vec<_>>()}),
        };
        let mut expr = Vec::new();
        if let Some(over) = &vxlan.over {
            expr.push(
                json!({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": over}}),
            );
        }
        expr.push(json!({"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": "saddr"}}, "right": right}}));
        expr.push(json!({"return": null}));
        rules.push(raw_rule(chain, expr));
    }
    rules.push(raw_rule(chain, vec![counter(), json!({"drop": null})]));
    rules
}

fn udp_dport(right: Value) -> Value {
    json!({"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": right}})
}

#[cfg(test)]
mod tests;
