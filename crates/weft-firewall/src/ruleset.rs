//! The pure part: weft's whole nftables table for a set of networks, as a
//! [`Table`] value (what `nft -j list table inet weft` shows once applied).
//!
//! The table grows linearly with the networks: what is shared between them
//! is kept in named sets and verdict maps (elements added and removed one
//! network at a time), and each network has two chains whose rules name
//! only that network. For networks N1…Nn, each with its interfaces I(N) and
//! subnets S(N) (at most one per address family):
//!
//! ```text
//! table inet weft {
//!   set interfaces          { type ifname; flags interval }     I(every N)
//!   set internal-interfaces { type ifname; flags interval }     I(every internal N)
//!   set subnets-v4/-v6      { type ipvX_addr; flags interval }  S(every N)
//!   set masquerade-v4/-v6   { type ipvX_addr; flags interval }  S(every N not internal)
//!   map forward-from        { type ifname : verdict }           I(N) : jump fwd-from-N
//!   map input-from          { type ifname : verdict }           I(N) : jump in-from-N
//!
//!   set vxlan-ports         { type inet_service }               VXLAN ports
//!
//!   chain forward {         # filter hook forward, policy accept
//!     udp dport { 68, 546 } oifname @interfaces counter drop
//!     iifname vmap @forward-from
//!     oifname @internal-interfaces drop
//!   }
//!   chain prerouting {      # filter hook prerouting, policy accept
//!     iifname @interfaces meta nfproto ipv4 fib saddr . iif oif missing counter drop
//!   }
//!   chain fwd-from-N {
//!     ip saddr != S4(N) counter drop                   (ip6 likewise)
//!     ip daddr @subnets-v4 ip daddr != S4(N) drop      (ip6 likewise)
//!     oifname I(N) accept
//!     oifname @interfaces drop
//!     drop                                              (only if N is internal)
//!   }
//!   chain input {           # filter hook input, policy accept
//!     udp dport @vxlan-ports jump vxlan-in
//!     iifname vmap @input-from
//!   }
//!   chain vxlan-in, vxlan-from-V  (VXLAN only from V's VTEPs: the `vxlan` module)
//!   chain in-from-N {
//!     ip daddr 255.255.255.255 udp dport 67 accept
//!     ip saddr != S4(N) counter drop                   (ip6 likewise)
//!     ip daddr @subnets-v4 ip daddr != S4(N) drop      (ip6 likewise)
//!     ct state established,related accept              (only if N is internal:
//!     ip daddr H(N) tcp dport { P } accept              H(N) the host's address,
//!     ip daddr H(N) udp dport { P } accept              P weft's service ports)
//!     ip daddr H(N) icmp type echo-request accept
//!     counter drop
//!   }
//!   chain postrouting {     # nat hook postrouting, only when some N is not internal
//!     oifname @interfaces return
//!     ip daddr @subnets-v4 return                       (ip6 likewise)
//!     ip saddr @masquerade-v4 masquerade                (ip6 likewise)
//!   }
//! }
//! ```
//!
//! A workload sends only from its own address: the prerouting check drops
//! a packet whose source would not be routed back out of the interface it
//! came in on (strict reverse path: a neighbour's address, another
//! network's, the outside world's), and each network's chains drop any
//! source outside the network's subnet, so masquerade never launders a
//! forged source. Both count what they drop. The one packet from outside
//! the subnet the host takes is a VM's DHCP request before it has an
//! address (from 0.0.0.0 to the broadcast address, port 67; a rebinding
//! guest's comes from its own): weft's responder answers it, and only to
//! the MAC it gave the NIC.
//!
//! No workload answers DHCP: the forward chain's first rule drops DHCP
//! answers routed into any weft interface (the `rogue_servers` module; on
//! bridges, table `bridge weft` drops them where they enter).
//!
//! Every base chain has policy accept and only ever drops traffic that
//! enters or leaves through a weft interface (and, in input, packets to a
//! weft VXLAN network's port and VNI from a sender that is not one of its
//! VTEPs), so the host's own forwarding and filtering (other tables) are
//! left exactly as they were. The nat chain exists only while some network
//! needs masquerade: a nat hook turns on connection tracking for every
//! packet of the namespace.

use ipnet::IpNet;
use nftables::expr::MetaKey;
use nftables::stmt::{Operator, Statement};
use serde_json::{Value, json};

use crate::error::FirewallError;
use crate::model::{NetworkRules, validate};
use crate::nft_json::{
    accept, addr_match, address, address_element, base_chain, counter, drop, ifname_element,
    ifname_in, ifname_is, raw_rule, regular_chain, ret, rule, set_declaration, set_ref, vmap,
};
use crate::table::Table;

/// The one table weft owns; nothing outside it is ever touched.
pub const TABLE: &str = "weft";
/// Its family as nft's JSON and command line spell it: `inet` covers IPv4
/// and IPv6 with one set of rules.
pub const FAMILY_KEYWORD: &str = "inet";

/// Every interface of every weft network.
pub const INTERFACES: &str = "interfaces";
/// The interfaces of internal networks: nothing from outside gets in.
pub const INTERNAL_INTERFACES: &str = "internal-interfaces";
/// Which network's forward chain judges a packet, by its input interface.
pub const FORWARD_FROM: &str = "forward-from";
/// Which network's input chain judges a packet, by its input interface.
pub const INPUT_FROM: &str = "input-from";

const PREROUTING: &str = "prerouting";
const FORWARD: &str = "forward";
const INPUT: &str = "input";
const POSTROUTING: &str = "postrouting";

/// Standard priorities (nft's `filter` and `srcnat`), the same as netavark.
const FILTER_PRIORITY: i32 = 0;
/// nft's `mangle`: the source check runs before any destination NAT of
/// other tables (Podman's port forwarding is at `dstnat`, -100).
const MANGLE_PRIORITY: i32 = -150;
const SRCNAT_PRIORITY: i32 = 100;

/// An address family's part of the table: its payload protocol and sets.
#[derive(Clone, Copy)]
struct Family {
    protocol: &'static str,
    set_type: &'static str,
    subnets: &'static str,
    masquerade: &'static str,
    is: fn(&IpNet) -> bool,
}

const FAMILIES: [Family; 2] = [
    Family {
        protocol: "ip",
        set_type: "ipv4_addr",
        subnets: "subnets-v4",
        masquerade: "masquerade-v4",
        is: |net| matches!(net, IpNet::V4(_)),
    },
    Family {
        protocol: "ip6",
        set_type: "ipv6_addr",
        subnets: "subnets-v6",
        masquerade: "masquerade-v6",
        is: |net| matches!(net, IpNet::V6(_)),
    },
];

/// The chain judging forwarded traffic that entered through `network`.
pub fn forward_chain_name(network: &str) -> String {
    format!("fwd-from-{network}")
}

/// The chain judging traffic to the host itself that entered through
/// `network`.
pub fn input_chain_name(network: &str) -> String {
    format!("in-from-{network}")
}

/// Table `inet weft` as `networks` need it; `None` when there are no
/// networks (then there is no table at all).
pub fn ruleset(networks: &[NetworkRules]) -> Result<Option<Table>, FirewallError> {
    validate(networks)?;
    if networks.is_empty() {
        return Ok(None);
    }
    let mut table = Table::default();
    add_sets(&mut table, networks);
    crate::vxlan::add_ports_set(&mut table, networks);
    add_prerouting(&mut table);
    add_forward(&mut table, networks);
    add_input(&mut table, networks);
    add_postrouting(&mut table, networks);
    Ok(Some(table))
}

/// The sets and maps, filled: what is shared between networks lives here,
/// one element per interface or subnet.
fn add_sets(table: &mut Table, networks: &[NetworkRules]) {
    table.add_set(
        "set",
        set_declaration(INTERFACES, "ifname"),
        interface_elements(networks.iter()),
    );
    table.add_set(
        "set",
        set_declaration(INTERNAL_INTERFACES, "ifname"),
        interface_elements(networks.iter().filter(|n| n.internal)),
    );
    for family in FAMILIES {
        table.add_set(
            "set",
            set_declaration(family.subnets, family.set_type),
            subnet_elements(family, networks.iter()),
        );
        table.add_set(
            "set",
            set_declaration(family.masquerade, family.set_type),
            subnet_elements(family, networks.iter().filter(|n| !n.internal)),
        );
    }
    for (map, chain_name) in [
        (FORWARD_FROM, forward_chain_name as fn(&str) -> String),
        (INPUT_FROM, input_chain_name),
    ] {
        let elements = networks
            .iter()
            .flat_map(|n| {
                let target = chain_name(&n.name);
                n.interfaces
                    .iter()
                    .map(move |i| json!([ifname_element(i), {"jump": {"target": target}}]))
            })
            .collect();
        let mut declaration = set_declaration(map, "ifname");
        declaration["map"] = json!("verdict");
        table.add_set("map", declaration, elements);
    }
}

fn interface_elements<'a>(networks: impl Iterator<Item = &'a NetworkRules>) -> Vec<Value> {
    networks
        .flat_map(|n| n.interfaces.iter().map(ifname_element))
        .collect()
}

fn subnet_elements<'a>(
    family: Family,
    networks: impl Iterator<Item = &'a NetworkRules>,
) -> Vec<Value> {
    networks
        .flat_map(|n| n.subnets.iter().filter(|s| (family.is)(s)))
        .map(address_element)
        .collect()
}

/// forward: classify by the network the packet came from.
fn add_forward(table: &mut Table, networks: &[NetworkRules]) {
    table.add_chain(
        base_chain(FORWARD, "filter", "forward", FILTER_PRIORITY),
        vec![
            // Before anything accepts.
            crate::rogue_servers::dhcp_routed_in(FORWARD, INTERFACES),
            rule(FORWARD, vec![vmap(MetaKey::Iifname, FORWARD_FROM)]),
            // Reached only by packets from outside weft's interfaces (every
            // packet from a weft interface was judged by its network's
            // chain, which ends in a verdict or returns only for non-weft
            // destinations): nothing from outside gets into an internal
            // network.
            rule(
                FORWARD,
                vec![ifname_in(MetaKey::Oifname, INTERNAL_INTERFACES), drop()],
            ),
        ],
    );
    for net in networks {
        let chain = forward_chain_name(&net.name);
        // First, by source: only N's own addresses may enter through N's
        // interfaces. Then by destination address: even a packet the host
        // would route back out of N's own interfaces (a workload that added
        // its own routes, a peer sending red's addresses over blue's
        // tunnel) never reaches another network's addresses.
        let mut rules = only_from_own_subnet(&chain, net);
        rules.extend(not_to_other_subnets(&chain, net));
        // Within N — across hosts and between two workloads on this host.
        for interface in &net.interfaces {
            rules.push(rule(
                &chain,
                vec![ifname_is(MetaKey::Oifname, interface), accept()],
            ));
        }
        // Into another network's interfaces, whatever the address (N's own
        // were accepted just above).
        rules.push(rule(
            &chain,
            vec![ifname_in(MetaKey::Oifname, INTERFACES), drop()],
        ));
        // An internal network reaches nothing but itself. A non-internal one
        // returns to the forward chain (and then the host's own rules) for
        // traffic to the outside, which postrouting masquerades.
        if net.internal {
            rules.push(rule(&chain, vec![drop()]));
        }
        table.add_chain(regular_chain(&chain), rules);
    }
}

/// input: a workload may talk to the host on its own network's addresses
/// (the gateway, DNS, the probe) but not on another network's.
fn add_input(table: &mut Table, networks: &[NetworkRules]) {
    // VXLAN senders first: a packet judged there goes on to its input
    // interface's chain as any other.
    table.add_chain(
        base_chain(INPUT, "filter", "input", FILTER_PRIORITY),
        vec![
            crate::vxlan::dispatch(INPUT),
            rule(INPUT, vec![vmap(MetaKey::Iifname, INPUT_FROM)]),
        ],
    );
    crate::vxlan::add_chains(table, networks);
    for net in networks {
        let chain = input_chain_name(&net.name);
        let mut rules = vec![dhcp_discovery(&chain)];
        rules.extend(only_from_own_subnet(&chain, net));
        rules.extend(not_to_other_subnets(&chain, net));
        if net.internal {
            rules.extend(only_weft_services(&chain, net));
        }
        table.add_chain(regular_chain(&chain), rules);
    }
}

/// prerouting: strict reverse-path check on every weft interface. A routed
/// workload's veth is the only way back to its address, so a packet from
/// a neighbour's, another network's or an outside address fails it. IPv4
/// only, as weft's networks are (an IPv6 check would drop the unspecified
/// source of duplicate address detection).
fn add_prerouting(table: &mut Table) {
    let rule = raw_rule(
        PREROUTING,
        vec![
            json!({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": format!("@{INTERFACES}")}}),
            json!({"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}}),
            json!({"match": {"op": "==", "left": {"fib": {"result": "oif", "flags": ["saddr", "iif"]}}, "right": false}}),
            counter(),
            json!({"drop": null}),
        ],
    );
    table.add_chain(
        base_chain(PREROUTING, "filter", "prerouting", MANGLE_PRIORITY),
        vec![rule],
    );
}

/// `ip daddr 255.255.255.255 udp dport 67 accept`: a guest asking weft's
/// DHCP responder for an address, before it has one (from 0.0.0.0) or
/// rebinding (from its own; on an internal network nothing else of the
/// host but its services would take it). A forged source never gets here:
/// the reverse-path check (routed) and table `bridge weft` (bridged) drop
/// it first, and the responder answers only the MACs weft assigned.
fn dhcp_discovery(chain: &str) -> Value {
    raw_rule(
        chain,
        vec![
            json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "255.255.255.255"}}),
            json!({"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 67}}),
            json!({"accept": null}),
        ],
    )
}

/// Table `bridge weft`'s exception, before the address pin: a DHCP request
/// from 0.0.0.0 to the broadcast address (the MAC is checked already).
pub(crate) fn dhcp_discovery_match() -> Vec<Value> {
    vec![
        json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "0.0.0.0"}}),
        json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "255.255.255.255"}}),
        json!({"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 67}}),
    ]
}

/// Per address family N has: `ip saddr != S4(N) counter drop`.
fn only_from_own_subnet(chain: &str, net: &NetworkRules) -> Vec<Value> {
    FAMILIES
        .iter()
        .filter_map(|&family| {
            let own = net.subnets.iter().find(|s| (family.is)(s))?;
            let source = addr_match(family.protocol, "saddr", Operator::NEQ, address(own));
            let mut expr = vec![serde_json::to_value(source).expect("nft statements serialize")];
            expr.extend([counter(), json!({"drop": null})]);
            Some(raw_rule(chain, expr))
        })
        .collect()
}

/// The end of an internal network's input chain: replies to the host's own
/// connections (its probes and name fetches through the tunnel), weft's
/// services on the host's address, ping of that address; nothing else.
fn only_weft_services(chain: &str, net: &NetworkRules) -> Vec<Value> {
    let mut rules = vec![raw_rule(
        chain,
        vec![
            json!({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}),
            json!({"accept": null}),
        ],
    )];
    if let Some(services) = &net.host_services {
        let (protocol, icmp) = match services.address {
            std::net::IpAddr::V4(_) => ("ip", "icmp"),
            std::net::IpAddr::V6(_) => ("ip6", "icmpv6"),
        };
        let to_host = json!({"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": "daddr"}}, "right": services.address.to_string()}});
        for (l4, ports) in [("tcp", &services.tcp_ports), ("udp", &services.udp_ports)] {
            let right = match ports.as_slice() {
                [] => continue,
                [one] => json!(one),
                many => {
                    let mut sorted = many.to_vec();
                    sorted.sort_unstable();
                    sorted.dedup();
                    json!({"set": sorted})
                }
            };
            rules.push(raw_rule(
                chain,
                vec![
                    to_host.clone(),
                    json!({"match": {"op": "==", "left": {"payload": {"protocol": l4, "field": "dport"}}, "right": right}}),
                    json!({"accept": null}),
                ],
            ));
        }
        rules.push(raw_rule(
            chain,
            vec![
                to_host,
                json!({"match": {"op": "==", "left": {"payload": {"protocol": icmp, "field": "type"}}, "right": "echo-request"}}),
                json!({"accept": null}),
            ],
        ));
    }
    rules.push(raw_rule(chain, vec![counter(), json!({"drop": null})]));
    rules
}

/// postrouting: masquerade what non-internal networks send to the outside.
/// Traffic into any weft interface or to any weft address keeps its
/// source: inside weft every address is routable, and rewriting it would
/// hide who is talking from the other end.
fn add_postrouting(table: &mut Table, networks: &[NetworkRules]) {
    if networks.iter().all(|n| n.internal) {
        return;
    }
    let mut rules = vec![rule(
        POSTROUTING,
        vec![ifname_in(MetaKey::Oifname, INTERFACES), ret()],
    )];
    for family in FAMILIES {
        rules.push(rule(
            POSTROUTING,
            vec![addr_in_set(family, "daddr", family.subnets), ret()],
        ));
    }
    for family in FAMILIES {
        rules.push(rule(
            POSTROUTING,
            vec![
                addr_in_set(family, "saddr", family.masquerade),
                Statement::Masquerade(None),
            ],
        ));
    }
    table.add_chain(
        base_chain(POSTROUTING, "nat", "postrouting", SRCNAT_PRIORITY),
        rules,
    );
}

/// Per address family: `ip daddr @subnets-v4 ip daddr != S4(N) drop`, or
/// without the exception when N has no subnet of that family.
fn not_to_other_subnets(chain: &str, net: &NetworkRules) -> Vec<Value> {
    FAMILIES
        .iter()
        .map(|&family| {
            let mut statements = vec![addr_in_set(family, "daddr", family.subnets)];
            // validate() allows at most one subnet per family.
            if let Some(own) = net.subnets.iter().find(|s| (family.is)(s)) {
                statements.push(addr_match(
                    family.protocol,
                    "daddr",
                    Operator::NEQ,
                    address(own),
                ));
            }
            statements.push(drop());
            rule(chain, statements)
        })
        .collect()
}

/// `ip daddr @subnets-v4`. In an inet table the `ip`/`ip6` payload also
/// checks the family, so one rule never matches the other family's packets.
fn addr_in_set(family: Family, field: &'static str, set: &str) -> Statement<'static> {
    addr_match(family.protocol, field, Operator::EQ, set_ref(set))
}

#[cfg(test)]
pub(crate) mod tests;
