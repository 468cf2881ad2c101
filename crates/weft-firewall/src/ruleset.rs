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
//!   chain forward {         # filter hook forward, policy accept
//!     iifname vmap @forward-from
//!     oifname @internal-interfaces drop
//!   }
//!   chain fwd-from-N {
//!     ip daddr @subnets-v4 ip daddr != S4(N) drop      (ip6 likewise)
//!     oifname I(N) accept
//!     oifname @interfaces drop
//!     drop                                              (only if N is internal)
//!   }
//!   chain input {           # filter hook input, policy accept
//!     iifname vmap @input-from
//!   }
//!   chain in-from-N {
//!     ip daddr @subnets-v4 ip daddr != S4(N) drop      (ip6 likewise)
//!   }
//!   chain postrouting {     # nat hook postrouting, only when some N is not internal
//!     oifname @interfaces return
//!     ip daddr @subnets-v4 return                       (ip6 likewise)
//!     ip saddr @masquerade-v4 masquerade                (ip6 likewise)
//!   }
//! }
//! ```
//!
//! Every base chain has policy accept and only ever drops traffic that
//! enters or leaves through a weft interface, so the host's own forwarding
//! and filtering (other tables) are left exactly as they were. The nat
//! chain exists only while some network needs masquerade: a nat hook turns
//! on connection tracking for every packet of the namespace.

use std::borrow::Cow;

use ipnet::IpNet;
use nftables::expr::{Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix};
use nftables::stmt::{Match, Operator, Statement, VerdictMap};
use serde_json::{Value, json};

use crate::error::FirewallError;
use crate::model::{IfMatch, NetworkRules, validate};
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

const FORWARD: &str = "forward";
const INPUT: &str = "input";
const POSTROUTING: &str = "postrouting";

/// Standard priorities (nft's `filter` and `srcnat`), the same as netavark.
const FILTER_PRIORITY: i32 = 0;
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
        // First, by destination address: even a packet the host would route
        // back out of N's own interfaces (a workload that added its own
        // routes, a peer sending red's addresses over blue's tunnel) never
        // reaches another network's addresses.
        let mut rules = not_to_other_subnets(&chain, net);
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
    table.add_chain(
        base_chain(INPUT, "filter", "input", FILTER_PRIORITY),
        vec![rule(INPUT, vec![vmap(MetaKey::Iifname, INPUT_FROM)])],
    );
    for net in networks {
        let chain = input_chain_name(&net.name);
        let rules = not_to_other_subnets(&chain, net);
        table.add_chain(regular_chain(&chain), rules);
    }
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
                statements.push(addr_match(family, "daddr", Operator::NEQ, address(own)));
            }
            statements.push(drop());
            rule(chain, statements)
        })
        .collect()
}

fn set_declaration(name: &str, set_type: &str) -> Value {
    json!({
        "family": FAMILY_KEYWORD,
        "table": TABLE,
        "name": name,
        "type": set_type,
        "flags": ["interval"],
    })
}

fn base_chain(name: &str, kind: &str, hook: &str, prio: i32) -> Value {
    // Policy accept: weft only drops what it recognises; the rest is the
    // host's.
    json!({
        "family": FAMILY_KEYWORD,
        "table": TABLE,
        "name": name,
        "type": kind,
        "hook": hook,
        "prio": prio,
        "policy": "accept",
    })
}

fn regular_chain(name: &str) -> Value {
    json!({"family": FAMILY_KEYWORD, "table": TABLE, "name": name})
}

fn rule(chain: &str, statements: Vec<Statement<'static>>) -> Value {
    let expr = serde_json::to_value(statements).expect("nft statements always serialize to JSON");
    json!({"family": FAMILY_KEYWORD, "table": TABLE, "chain": chain, "expr": expr})
}

/// An interface as a set element: `"wg0"`, or `"w0-*"` for a prefix.
fn ifname_element(interface: &IfMatch) -> Value {
    Value::String(interface.nft_pattern())
}

/// A subnet as a set element: a prefix, or a plain address for a
/// full-length one (which is how nft lists it).
fn address_element(subnet: &IpNet) -> Value {
    serde_json::to_value(address(subnet)).expect("nft expressions always serialize to JSON")
}

fn address(subnet: &IpNet) -> Expression<'static> {
    let subnet = subnet.trunc();
    let addr = Expression::String(Cow::Owned(subnet.addr().to_string()));
    if subnet.prefix_len() == subnet.max_prefix_len() {
        addr
    } else {
        Expression::Named(NamedExpression::Prefix(Prefix {
            addr: Box::new(addr),
            len: u32::from(subnet.prefix_len()),
        }))
    }
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn set_ref(name: &str) -> Expression<'static> {
    Expression::String(Cow::Owned(format!("@{name}")))
}

/// `iifname vmap @forward-from`.
fn vmap(key: MetaKey, map: &str) -> Statement<'static> {
    Statement::VerdictMap(VerdictMap {
        key: meta(key),
        data: set_ref(map),
    })
}

/// `oifname "wg0"` / `oifname "w0-*"`.
fn ifname_is(key: MetaKey, interface: &IfMatch) -> Statement<'static> {
    Statement::Match(Match {
        left: meta(key),
        right: Expression::String(Cow::Owned(interface.nft_pattern())),
        op: Operator::EQ,
    })
}

/// `oifname @interfaces`.
fn ifname_in(key: MetaKey, set: &str) -> Statement<'static> {
    Statement::Match(Match {
        left: meta(key),
        right: set_ref(set),
        op: Operator::EQ,
    })
}

/// `ip daddr @subnets-v4`. In an inet table the `ip`/`ip6` payload also
/// checks the family, so one rule never matches the other family's packets.
fn addr_in_set(family: Family, field: &'static str, set: &str) -> Statement<'static> {
    addr_match(family, field, Operator::EQ, set_ref(set))
}

fn addr_match(
    family: Family,
    field: &'static str,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match {
        left: Expression::Named(NamedExpression::Payload(Payload::PayloadField(
            PayloadField {
                protocol: Cow::Borrowed(family.protocol),
                field: Cow::Borrowed(field),
            },
        ))),
        right,
        op,
    })
}

fn accept() -> Statement<'static> {
    Statement::Accept(None)
}

fn drop() -> Statement<'static> {
    Statement::Drop(None)
}

fn ret() -> Statement<'static> {
    Statement::Return(None)
}

#[cfg(test)]
#[path = "ruleset_tests.rs"]
pub(crate) mod tests;
