//! The pure part: weft's whole nftables table for a set of networks, as
//! objects (what `nft -j list table inet weft` shows once applied) and as
//! the one batch that installs them atomically.
//!
//! The table, for networks N1…Nn (each with its interfaces I(N) and
//! subnets S(N)):
//!
//! ```text
//! table inet weft {
//!   chain forward {        # filter hook forward, policy accept
//!     iifname I(N) jump fwd-from-N          (every N)
//!     oifname I(N) drop                     (every internal N)
//!   }
//!   chain fwd-from-N {
//!     ip daddr S(M) drop                    (every other network M)
//!     oifname I(N) accept
//!     oifname I(M) drop                     (every other network M)
//!     drop                                  (only if N is internal)
//!   }
//!   chain input {          # filter hook input, policy accept
//!     iifname I(N) jump in-from-N           (every N, when there are other networks)
//!   }
//!   chain in-from-N {
//!     ip daddr S(M) drop                    (every other network M)
//!   }
//!   chain postrouting {    # nat hook postrouting, only when some N is not internal
//!     oifname I(N) return                   (every N)
//!     ip daddr S(N) return                  (every N)
//!     ip saddr S(N) masquerade              (every N that is not internal)
//!   }
//! }
//! ```
//!
//! Every base chain has policy accept and only ever drops traffic that
//! enters or leaves through a weft interface, so the host's own forwarding
//! and filtering (other tables) are left exactly as they were.

use std::borrow::Cow;

use ipnet::IpNet;
use nftables::batch::Batch;
use nftables::expr::{Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix};
use nftables::schema::{Chain, NfListObject, NfObject, Nftables, Rule, Table};
use nftables::stmt::{JumpTarget, Match, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use crate::error::FirewallError;
use crate::model::{IfMatch, NetworkRules, validate};

/// The one table weft owns; nothing outside it is ever touched.
pub const TABLE: &str = "weft";
/// Its family: `inet` covers IPv4 and IPv6 with one set of rules.
pub const FAMILY: NfFamily = NfFamily::INet;
/// The same family as nft's command line spells it.
pub const FAMILY_KEYWORD: &str = "inet";

const FORWARD: &str = "forward";
const INPUT: &str = "input";
const POSTROUTING: &str = "postrouting";

/// Standard priorities (nft's `filter` and `srcnat`), the same as netavark.
const FILTER_PRIORITY: i32 = 0;
const SRCNAT_PRIORITY: i32 = 100;

/// The chain judging forwarded traffic that entered through network `name`.
pub fn forward_chain_name(network: &str) -> String {
    format!("fwd-from-{network}")
}

/// The chain judging traffic to the host itself that entered through
/// network `name`.
pub fn input_chain_name(network: &str) -> String {
    format!("in-from-{network}")
}

/// The batch that makes table `inet weft` exactly what `networks` need, in
/// one nft transaction: `add table` (so the delete cannot fail when the
/// table is absent), `delete table` (drops every chain and rule a previous
/// set of networks had), then the new table with its chains and rules. The
/// kernel commits the batch as a whole, so packets see the old table or the
/// new one, never a moment without it. With no networks the batch ends
/// after the delete: the table is gone.
pub fn ruleset(networks: &[NetworkRules]) -> Result<Nftables<'static>, FirewallError> {
    let objects = table_objects(networks)?;
    let mut batch = Batch::new();
    batch.add(table());
    batch.delete(table());
    for object in objects {
        batch.add(object);
    }
    Ok(batch.to_nftables())
}

/// The objects of table `inet weft` for `networks` — the table, its chains,
/// then its rules chain by chain — without handles, exactly as nft lists
/// them back. Empty when there are no networks (no table at all).
pub fn table_objects(
    networks: &[NetworkRules],
) -> Result<Vec<NfListObject<'static>>, FirewallError> {
    validate(networks)?;
    if networks.is_empty() {
        return Ok(Vec::new());
    }
    let mut chains = Vec::new();
    let mut rules = Vec::new();

    // forward: classify by the network the packet came from.
    chains.push(base_chain(
        FORWARD,
        NfChainType::Filter,
        NfHook::Forward,
        FILTER_PRIORITY,
    ));
    for net in networks {
        for interface in &net.interfaces {
            rules.push(rule(
                FORWARD,
                vec![
                    ifname_is(MetaKey::Iifname, interface),
                    jump(forward_chain_name(&net.name)),
                ],
            ));
        }
    }
    // Reached only by packets from outside weft's interfaces (every packet
    // from a weft interface was judged by its network's chain, which ends
    // in a verdict or returns only for non-weft destinations): nothing from
    // outside gets into an internal network.
    for net in networks.iter().filter(|n| n.internal) {
        for interface in &net.interfaces {
            rules.push(rule(
                FORWARD,
                vec![ifname_is(MetaKey::Oifname, interface), drop()],
            ));
        }
    }
    for net in networks {
        let chain = forward_chain_name(&net.name);
        chains.push(regular_chain(&chain));
        let others = || networks.iter().filter(|o| o.name != net.name);
        // First, by destination address: even a packet the host would route
        // back out of N's own interfaces (a workload that added its own
        // routes, a peer sending red's addresses over blue's tunnel) never
        // reaches another network's addresses.
        for other in others() {
            for subnet in &other.subnets {
                rules.push(rule(&chain, vec![addr_in("daddr", subnet), drop()]));
            }
        }
        // Within N — across hosts and between two workloads on this host.
        for interface in &net.interfaces {
            rules.push(rule(
                &chain,
                vec![ifname_is(MetaKey::Oifname, interface), accept()],
            ));
        }
        // Into another network's interfaces, whatever the address.
        for other in others() {
            for interface in &other.interfaces {
                rules.push(rule(
                    &chain,
                    vec![ifname_is(MetaKey::Oifname, interface), drop()],
                ));
            }
        }
        // An internal network reaches nothing but itself. A non-internal one
        // returns to the forward chain (and then the host's own rules) for
        // traffic to the outside, which postrouting masquerades.
        if net.internal {
            rules.push(rule(&chain, vec![drop()]));
        }
    }

    // input: a workload may talk to the host on its own network's addresses
    // (the gateway, DNS) but not on another network's.
    if networks.len() > 1 {
        chains.push(base_chain(
            INPUT,
            NfChainType::Filter,
            NfHook::Input,
            FILTER_PRIORITY,
        ));
        for net in networks {
            for interface in &net.interfaces {
                rules.push(rule(
                    INPUT,
                    vec![
                        ifname_is(MetaKey::Iifname, interface),
                        jump(input_chain_name(&net.name)),
                    ],
                ));
            }
        }
        for net in networks {
            let chain = input_chain_name(&net.name);
            chains.push(regular_chain(&chain));
            for other in networks.iter().filter(|o| o.name != net.name) {
                for subnet in &other.subnets {
                    rules.push(rule(&chain, vec![addr_in("daddr", subnet), drop()]));
                }
            }
        }
    }

    // postrouting: masquerade what non-internal networks send to the outside.
    // Traffic into any weft interface or to any weft address keeps its
    // source: inside weft every address is routable, and rewriting it would
    // hide who is talking from the other end.
    if networks.iter().any(|n| !n.internal) {
        chains.push(base_chain(
            POSTROUTING,
            NfChainType::NAT,
            NfHook::Postrouting,
            SRCNAT_PRIORITY,
        ));
        for net in networks {
            for interface in &net.interfaces {
                rules.push(rule(
                    POSTROUTING,
                    vec![ifname_is(MetaKey::Oifname, interface), ret()],
                ));
            }
        }
        for net in networks {
            for subnet in &net.subnets {
                rules.push(rule(POSTROUTING, vec![addr_in("daddr", subnet), ret()]));
            }
        }
        for net in networks.iter().filter(|n| !n.internal) {
            for subnet in &net.subnets {
                rules.push(rule(
                    POSTROUTING,
                    vec![addr_in("saddr", subnet), Statement::Masquerade(None)],
                ));
            }
        }
    }

    // nft lists a table's chains first, then the rules of each chain in
    // chain order; build them in that order so a listing compares equal.
    let mut objects = vec![table()];
    let chain_names: Vec<String> = chains
        .iter()
        .map(|c| match c {
            NfListObject::Chain(chain) => chain.name.to_string(),
            _ => unreachable!("only chains are collected here"),
        })
        .collect();
    objects.extend(chains);
    for name in chain_names {
        objects.extend(
            rules
                .iter()
                .filter(|r| rule_chain(r) == Some(name.as_str()))
                .cloned(),
        );
    }
    Ok(objects)
}

/// The objects of table `inet weft` in an `nft -j list table inet weft`
/// output, with handles removed so they compare with [`table_objects`].
/// `None` when the listing cannot be read as nftables JSON (a newer nft, or
/// objects added by hand that this crate does not model): the caller then
/// treats the table as different and replaces it.
pub fn listed_objects(listing: &str) -> Option<Vec<NfListObject<'static>>> {
    if listing.trim().is_empty() {
        return Some(Vec::new());
    }
    let parsed: Nftables<'static> = serde_json::from_str(listing).ok()?;
    let mut objects = Vec::new();
    for object in parsed.objects.iter() {
        let NfObject::ListObject(object) = object else {
            return None;
        };
        let object = match object.clone() {
            NfListObject::MetainfoObject(_) => continue,
            NfListObject::Table(table) => NfListObject::Table(Table {
                handle: None,
                ..table
            }),
            NfListObject::Chain(chain) => NfListObject::Chain(Chain {
                handle: None,
                ..chain
            }),
            NfListObject::Rule(rule) => NfListObject::Rule(Rule {
                handle: None,
                ..rule
            }),
            other => other,
        };
        objects.push(object);
    }
    Some(objects)
}

fn rule_chain<'a>(object: &'a NfListObject<'_>) -> Option<&'a str> {
    match object {
        NfListObject::Rule(rule) => Some(&rule.chain),
        _ => None,
    }
}

fn table() -> NfListObject<'static> {
    NfListObject::Table(Table {
        family: FAMILY,
        name: Cow::Borrowed(TABLE),
        handle: None,
    })
}

fn base_chain(
    name: &'static str,
    kind: NfChainType,
    hook: NfHook,
    prio: i32,
) -> NfListObject<'static> {
    NfListObject::Chain(Chain {
        family: FAMILY,
        table: Cow::Borrowed(TABLE),
        name: Cow::Borrowed(name),
        _type: Some(kind),
        hook: Some(hook),
        prio: Some(prio),
        // Accept: weft only drops what it recognises; the rest is the host's.
        policy: Some(NfChainPolicy::Accept),
        ..Chain::default()
    })
}

fn regular_chain(name: &str) -> NfListObject<'static> {
    NfListObject::Chain(Chain {
        family: FAMILY,
        table: Cow::Borrowed(TABLE),
        name: Cow::Owned(name.to_owned()),
        ..Chain::default()
    })
}

fn rule(chain: &str, statements: Vec<Statement<'static>>) -> NfListObject<'static> {
    NfListObject::Rule(Rule {
        family: FAMILY,
        table: Cow::Borrowed(TABLE),
        chain: Cow::Owned(chain.to_owned()),
        expr: Cow::Owned(statements),
        ..Rule::default()
    })
}

/// `iifname "wg0"` / `oifname "w0-*"`.
fn ifname_is(key: MetaKey, interface: &IfMatch) -> Statement<'static> {
    Statement::Match(Match {
        left: Expression::Named(NamedExpression::Meta(Meta { key })),
        right: Expression::String(Cow::Owned(interface.nft_pattern())),
        op: Operator::EQ,
    })
}

/// `ip daddr 10.42.0.0/16` / `ip6 saddr fd42::/48`. In an inet table the
/// `ip`/`ip6` payload also checks the family, so one rule never matches the
/// other family's packets.
fn addr_in(field: &'static str, subnet: &IpNet) -> Statement<'static> {
    let protocol = match subnet {
        IpNet::V4(_) => "ip",
        IpNet::V6(_) => "ip6",
    };
    let subnet = subnet.trunc();
    let right = if subnet.prefix_len() == subnet.max_prefix_len() {
        // nft lists a full-length prefix as a plain address.
        Expression::String(Cow::Owned(subnet.addr().to_string()))
    } else {
        Expression::Named(NamedExpression::Prefix(Prefix {
            addr: Box::new(Expression::String(Cow::Owned(subnet.addr().to_string()))),
            len: u32::from(subnet.prefix_len()),
        }))
    };
    Statement::Match(Match {
        left: Expression::Named(NamedExpression::Payload(Payload::PayloadField(
            PayloadField {
                protocol: Cow::Borrowed(protocol),
                field: Cow::Borrowed(field),
            },
        ))),
        right,
        op: Operator::EQ,
    })
}

fn jump(target: String) -> Statement<'static> {
    Statement::Jump(JumpTarget {
        target: Cow::Owned(target),
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
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn blue_and_red_internal() -> Vec<NetworkRules> {
        vec![
            NetworkRules {
                name: "blue".into(),
                subnets: vec!["10.42.0.0/16".parse().unwrap()],
                interfaces: vec![IfMatch::Exact("wg0".into()), IfMatch::Prefix("w0-".into())],
                internal: false,
            },
            NetworkRules {
                name: "red".into(),
                subnets: vec!["10.43.0.0/16".parse().unwrap()],
                interfaces: vec![IfMatch::Exact("wg1".into()), IfMatch::Prefix("w1-".into())],
                internal: true,
            },
        ]
    }

    fn json_of(nftables: &Nftables<'_>) -> Value {
        serde_json::to_value(nftables).unwrap()
    }

    fn iif(name: &str) -> Value {
        json!({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": name}})
    }

    fn oif(name: &str) -> Value {
        json!({"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": name}})
    }

    fn ip(field: &str, addr: &str, len: u32) -> Value {
        json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": field}},
                         "right": {"prefix": {"addr": addr, "len": len}}}})
    }

    /// The rules of one chain, as the list of their expression arrays.
    fn chain_rules(batch: &Value, chain: &str) -> Vec<Value> {
        batch["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o.get("add")?.get("rule"))
            .filter(|r| r["chain"] == chain)
            .map(|r| {
                assert_eq!(r["family"], "inet");
                assert_eq!(r["table"], "weft");
                r["expr"].clone()
            })
            .collect()
    }

    #[test]
    fn batch_replaces_the_table_then_adds_chains_before_rules() {
        let batch = json_of(&ruleset(&blue_and_red_internal()).unwrap());
        let objects = batch["nftables"].as_array().unwrap();
        let table = json!({"table": {"family": "inet", "name": "weft"}});
        assert_eq!(objects[0], json!({"add": table}));
        assert_eq!(objects[1], json!({"delete": table}));
        assert_eq!(objects[2], json!({"add": table}));
        // Every object is in table inet weft and nothing else.
        for object in &objects[3..] {
            let inner = object["add"]
                .as_object()
                .expect("only adds after the delete");
            let (kind, body) = inner.iter().next().unwrap();
            assert!(kind == "chain" || kind == "rule", "{kind}");
            assert_eq!(body["family"], "inet");
            assert_eq!(body["table"], "weft");
        }
        let kinds: Vec<&str> = objects[3..]
            .iter()
            .map(|o| {
                o["add"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .next()
                    .unwrap()
                    .as_str()
            })
            .collect();
        let first_rule = kinds.iter().position(|k| *k == "rule").unwrap();
        assert!(
            kinds[first_rule..].iter().all(|k| *k == "rule"),
            "chains come first: {kinds:?}"
        );

        let chains: Vec<Value> = objects
            .iter()
            .filter_map(|o| o.get("add")?.get("chain").cloned())
            .collect();
        assert_eq!(
            chains,
            vec![
                json!({"family": "inet", "table": "weft", "name": "forward",
                       "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}),
                json!({"family": "inet", "table": "weft", "name": "fwd-from-blue"}),
                json!({"family": "inet", "table": "weft", "name": "fwd-from-red"}),
                json!({"family": "inet", "table": "weft", "name": "input",
                       "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}),
                json!({"family": "inet", "table": "weft", "name": "in-from-blue"}),
                json!({"family": "inet", "table": "weft", "name": "in-from-red"}),
                json!({"family": "inet", "table": "weft", "name": "postrouting",
                       "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}),
            ]
        );
    }

    #[test]
    fn exact_rules_for_blue_and_internal_red() {
        let batch = json_of(&ruleset(&blue_and_red_internal()).unwrap());
        let drop = json!({"drop": null});
        let accept = json!({"accept": null});
        let ret = json!({"return": null});
        let jump = |t: &str| json!({"jump": {"target": t}});

        assert_eq!(
            chain_rules(&batch, "forward"),
            vec![
                json!([iif("wg0"), jump("fwd-from-blue")]),
                json!([iif("w0-*"), jump("fwd-from-blue")]),
                json!([iif("wg1"), jump("fwd-from-red")]),
                json!([iif("w1-*"), jump("fwd-from-red")]),
                // Nothing from outside into internal red.
                json!([oif("wg1"), drop]),
                json!([oif("w1-*"), drop]),
            ]
        );
        assert_eq!(
            chain_rules(&batch, "fwd-from-blue"),
            vec![
                json!([ip("daddr", "10.43.0.0", 16), drop]),
                json!([oif("wg0"), accept]),
                json!([oif("w0-*"), accept]),
                json!([oif("wg1"), drop]),
                json!([oif("w1-*"), drop]),
            ]
        );
        assert_eq!(
            chain_rules(&batch, "fwd-from-red"),
            vec![
                json!([ip("daddr", "10.42.0.0", 16), drop]),
                json!([oif("wg1"), accept]),
                json!([oif("w1-*"), accept]),
                json!([oif("wg0"), drop]),
                json!([oif("w0-*"), drop]),
                json!([drop]),
            ]
        );
        assert_eq!(
            chain_rules(&batch, "input"),
            vec![
                json!([iif("wg0"), jump("in-from-blue")]),
                json!([iif("w0-*"), jump("in-from-blue")]),
                json!([iif("wg1"), jump("in-from-red")]),
                json!([iif("w1-*"), jump("in-from-red")]),
            ]
        );
        assert_eq!(
            chain_rules(&batch, "in-from-blue"),
            vec![json!([ip("daddr", "10.43.0.0", 16), drop])]
        );
        assert_eq!(
            chain_rules(&batch, "in-from-red"),
            vec![json!([ip("daddr", "10.42.0.0", 16), drop])]
        );
        assert_eq!(
            chain_rules(&batch, "postrouting"),
            vec![
                json!([oif("wg0"), ret]),
                json!([oif("w0-*"), ret]),
                json!([oif("wg1"), ret]),
                json!([oif("w1-*"), ret]),
                json!([ip("daddr", "10.42.0.0", 16), ret]),
                json!([ip("daddr", "10.43.0.0", 16), ret]),
                // Only blue masquerades: red is internal.
                json!([ip("saddr", "10.42.0.0", 16), {"masquerade": null}]),
            ]
        );
    }

    #[test]
    fn no_networks_deletes_the_table_and_adds_nothing() {
        let batch = json_of(&ruleset(&[]).unwrap());
        let table = json!({"table": {"family": "inet", "name": "weft"}});
        assert_eq!(
            batch,
            json!({"nftables": [{"add": table}, {"delete": table}]})
        );
    }

    #[test]
    fn single_network_has_no_input_chain_and_only_internal_has_no_nat() {
        let mut nets = blue_and_red_internal();
        nets.truncate(1);
        let batch = json_of(&ruleset(&nets).unwrap());
        assert!(chain_rules(&batch, "input").is_empty());
        assert_eq!(chain_rules(&batch, "postrouting").len(), 4);

        nets[0].internal = true;
        let objects = table_objects(&nets).unwrap();
        assert!(
            !objects
                .iter()
                .any(|o| matches!(o, NfListObject::Chain(c) if c.name == "postrouting")),
            "an internal-only host needs no nat chain"
        );
    }

    #[test]
    fn ipv6_subnets_use_ip6_matches() {
        let mut nets = blue_and_red_internal();
        nets[1].subnets.push("fd43::/48".parse().unwrap());
        let batch = json_of(&ruleset(&nets).unwrap());
        let blue = chain_rules(&batch, "fwd-from-blue");
        assert_eq!(
            blue[1],
            json!([{"match": {"op": "==",
                "left": {"payload": {"protocol": "ip6", "field": "daddr"}},
                "right": {"prefix": {"addr": "fd43::", "len": 48}}}}, {"drop": null}])
        );
    }

    #[test]
    fn invalid_networks_build_nothing() {
        let mut nets = blue_and_red_internal();
        nets[1].interfaces.push(IfMatch::Exact("w0-x".into()));
        assert!(ruleset(&nets).is_err());
    }

    #[test]
    fn table_objects_read_back_from_a_listing_compare_equal() {
        let nets = blue_and_red_internal();
        let wanted = table_objects(&nets).unwrap();
        // What nft prints: metainfo first, handles on everything.
        let mut listed = vec![json!({"metainfo": {"version": "1.0.6", "json_schema_version": 1}})];
        for (handle, object) in wanted.iter().enumerate() {
            let mut value = serde_json::to_value(object).unwrap();
            let inner = value.as_object_mut().unwrap().values_mut().next().unwrap();
            inner["handle"] = json!(handle + 1);
            listed.push(value);
        }
        let listing = json!({"nftables": listed}).to_string();
        assert_eq!(listed_objects(&listing).unwrap(), wanted);
        assert_eq!(listed_objects("").unwrap(), Vec::new());
        assert_eq!(listed_objects("not json"), None);

        let fewer = table_objects(&nets[..1]).unwrap();
        assert_ne!(listed_objects(&listing).unwrap(), fewer);
    }

    #[test]
    fn the_same_networks_always_build_the_same_batch() {
        let a = serde_json::to_string(&ruleset(&blue_and_red_internal()).unwrap()).unwrap();
        let b = serde_json::to_string(&ruleset(&blue_and_red_internal()).unwrap()).unwrap();
        assert_eq!(a, b);
    }
}
