use serde_json::{Value, json};

use super::*;
use crate::model::{HostServices, IfMatch};

pub(crate) fn blue() -> NetworkRules {
    NetworkRules {
        name: "blue".into(),
        subnets: vec!["10.42.0.0/16".parse().unwrap()],
        interfaces: vec![IfMatch::Exact("wg0".into()), IfMatch::Prefix("w0-".into())],
        internal: false,
        bridge_ports: None,
        host_services: None,
        vxlan: None,
    }
}

pub(crate) fn red_internal() -> NetworkRules {
    NetworkRules {
        name: "red".into(),
        subnets: vec!["10.43.0.0/16".parse().unwrap()],
        interfaces: vec![IfMatch::Exact("wg1".into()), IfMatch::Prefix("w1-".into())],
        internal: true,
        bridge_ports: None,
        host_services: Some(HostServices {
            address: "10.43.1.1".parse().unwrap(),
            tcp_ports: vec![7945, 53],
            udp_ports: vec![53],
        }),
        vxlan: None,
    }
}

/// Network `i` of many: its own /16, `wg<i>` and `w<i>-*`.
pub(crate) fn numbered(i: usize) -> NetworkRules {
    NetworkRules {
        name: format!("net{i}"),
        subnets: vec![
            format!("10.{}.{}.0/24", 100 + i / 256, i % 256)
                .parse()
                .unwrap(),
        ],
        interfaces: vec![
            IfMatch::Exact(format!("wg{i}")),
            IfMatch::Prefix(format!("w{i}-")),
        ],
        internal: i.is_multiple_of(3),
        bridge_ports: None,
        host_services: None,
        vxlan: None,
    }
}

fn oif(name: &str) -> Value {
    json!({"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": name}})
}

fn addr(protocol: &str, field: &str, op: &str, right: Value) -> Value {
    json!({"match": {"op": op, "left": {"payload": {"protocol": protocol, "field": field}},
                     "right": right}})
}

fn prefix(addr: &str, len: u32) -> Value {
    json!({"prefix": {"addr": addr, "len": len}})
}

fn texts(values: &[Value]) -> Vec<String> {
    let mut texts: Vec<String> = values.iter().map(crate::table::canonical).collect();
    texts.sort();
    texts
}

#[test]
fn exact_table_for_blue_and_internal_red() {
    let table = ruleset(&[blue(), red_internal()]).unwrap().unwrap();
    let drop = json!({"drop": null});
    let accept = json!({"accept": null});
    let ret = json!({"return": null});
    let jump = |t: &str| json!({"jump": {"target": t}});

    assert_eq!(
        table.chain_names(),
        [
            "forward",
            "fwd-from-blue",
            "fwd-from-red",
            "in-from-blue",
            "in-from-red",
            "input",
            "postrouting",
            "prerouting",
            "vxlan-in"
        ]
    );
    let set = |name: &str| table.elements_of(name);
    assert_eq!(
        set(INTERFACES),
        texts(&[json!("wg0"), json!("w0-*"), json!("wg1"), json!("w1-*")])
    );
    assert_eq!(
        set(INTERNAL_INTERFACES),
        texts(&[json!("wg1"), json!("w1-*")])
    );
    assert_eq!(
        set("subnets-v4"),
        texts(&[prefix("10.42.0.0", 16), prefix("10.43.0.0", 16)])
    );
    assert_eq!(set("masquerade-v4"), texts(&[prefix("10.42.0.0", 16)]));
    assert!(set("subnets-v6").is_empty() && set("masquerade-v6").is_empty());
    assert_eq!(
        set(FORWARD_FROM),
        texts(&[
            json!(["wg0", jump("fwd-from-blue")]),
            json!(["w0-*", jump("fwd-from-blue")]),
            json!(["wg1", jump("fwd-from-red")]),
            json!(["w1-*", jump("fwd-from-red")]),
        ])
    );
    assert_eq!(
        set(INPUT_FROM),
        texts(&[
            json!(["wg0", jump("in-from-blue")]),
            json!(["w0-*", jump("in-from-blue")]),
            json!(["wg1", jump("in-from-red")]),
            json!(["w1-*", jump("in-from-red")]),
        ])
    );

    let rules =
        |chain: &str| -> Vec<Value> { table.rules_of(chain).into_iter().cloned().collect() };
    let counter = json!({"counter": {"packets": 0, "bytes": 0}});
    assert_eq!(
        rules("forward"),
        [
            // No DHCP answer is routed into a weft network.
            json!([
                addr("udp", "dport", "==", json!({"set": [68, 546]})),
                oif("@interfaces"),
                counter,
                drop
            ]),
            json!([{"vmap": {"key": {"meta": {"key": "iifname"}}, "data": "@forward-from"}}]),
            json!([oif("@internal-interfaces"), drop]),
        ]
    );
    let v4_others = |own: Value| {
        json!([
            addr("ip", "daddr", "==", json!("@subnets-v4")),
            addr("ip", "daddr", "!=", own),
            drop
        ])
    };
    let v6_all = json!([addr("ip6", "daddr", "==", json!("@subnets-v6")), drop]);
    let only_from = |own: Value| json!([addr("ip", "saddr", "!=", own), counter, drop]);
    // A guest's DHCP request before it has an address, to weft's responder.
    let dhcp_discovery = || {
        json!([
            addr("ip", "daddr", "==", json!("255.255.255.255")),
            addr("udp", "dport", "==", json!(67)),
            accept
        ])
    };
    assert_eq!(
        rules("prerouting"),
        [json!([
            {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "@interfaces"}},
            {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}},
            {"match": {"op": "==", "left": {"fib": {"result": "oif", "flags": ["saddr", "iif"]}}, "right": false}},
            counter,
            drop
        ])]
    );
    assert_eq!(
        rules("fwd-from-blue"),
        [
            only_from(prefix("10.42.0.0", 16)),
            v4_others(prefix("10.42.0.0", 16)),
            v6_all.clone(),
            json!([oif("wg0"), accept]),
            json!([oif("w0-*"), accept]),
            json!([oif("@interfaces"), drop]),
        ]
    );
    assert_eq!(
        rules("fwd-from-red"),
        [
            only_from(prefix("10.43.0.0", 16)),
            v4_others(prefix("10.43.0.0", 16)),
            v6_all.clone(),
            json!([oif("wg1"), accept]),
            json!([oif("w1-*"), accept]),
            json!([oif("@interfaces"), drop]),
            json!([drop]),
        ]
    );
    assert_eq!(
        rules("input"),
        [
            json!([
                addr("udp", "dport", "==", json!("@vxlan-ports")),
                jump("vxlan-in")
            ]),
            json!([{"vmap": {"key": {"meta": {"key": "iifname"}}, "data": "@input-from"}}])
        ]
    );
    assert!(set("vxlan-ports").is_empty(), "no VXLAN network here");
    assert_eq!(
        rules("in-from-blue"),
        [
            dhcp_discovery(),
            only_from(prefix("10.42.0.0", 16)),
            v4_others(prefix("10.42.0.0", 16)),
            v6_all.clone()
        ]
    );
    // Internal: of the host, only weft's services on its address in red.
    let to_host = addr("ip", "daddr", "==", json!("10.43.1.1"));
    assert_eq!(
        rules("in-from-red"),
        [
            dhcp_discovery(),
            only_from(prefix("10.43.0.0", 16)),
            v4_others(prefix("10.43.0.0", 16)),
            v6_all,
            json!([{"match": {"op": "in", "left": {"ct": {"key": "state"}},
                              "right": ["established", "related"]}}, accept]),
            json!([
                to_host,
                addr("tcp", "dport", "==", json!({"set": [53, 7945]})),
                accept
            ]),
            json!([to_host, addr("udp", "dport", "==", json!(53)), accept]),
            json!([
                to_host,
                addr("icmp", "type", "==", json!("echo-request")),
                accept
            ]),
            json!([counter, drop]),
        ]
    );
    assert_eq!(
        rules("postrouting"),
        [
            json!([oif("@interfaces"), ret]),
            json!([addr("ip", "daddr", "==", json!("@subnets-v4")), ret]),
            json!([addr("ip6", "daddr", "==", json!("@subnets-v6")), ret]),
            json!([addr("ip", "saddr", "==", json!("@masquerade-v4")), {"masquerade": null}]),
            json!([addr("ip6", "saddr", "==", json!("@masquerade-v6")), {"masquerade": null}]),
        ]
    );
    let base = &table.chains["postrouting"].declaration;
    assert_eq!(
        *base,
        json!({"family": "inet", "table": "weft", "name": "postrouting", "type": "nat",
               "hook": "postrouting", "prio": 100, "policy": "accept"})
    );
}

#[test]
fn no_networks_no_table_and_only_internal_no_nat() {
    assert_eq!(ruleset(&[]).unwrap(), None);
    let table = ruleset(&[red_internal()]).unwrap().unwrap();
    assert!(
        !table.chain_names().contains(&"postrouting"),
        "an internal-only host needs no nat chain (it would track every connection)"
    );
    let table = ruleset(&[blue()]).unwrap().unwrap();
    assert!(table.chain_names().contains(&"postrouting"));
}

#[test]
fn ipv6_subnets_use_ip6_matches_and_sets() {
    let mut nets = [blue(), red_internal()];
    nets[1].subnets.push("fd43::/48".parse().unwrap());
    nets[1].subnets.push("fd44::1/128".parse().unwrap());
    assert!(ruleset(&nets).is_err(), "two IPv6 subnets in one network");
    nets[1].subnets.pop();
    let table = ruleset(&nets).unwrap().unwrap();
    assert_eq!(
        table.elements_of("subnets-v6"),
        texts(&[prefix("fd43::", 48)])
    );
    assert!(
        table.elements_of("masquerade-v6").is_empty(),
        "red is internal"
    );
    assert_eq!(
        *table.rules_of("fwd-from-red")[1],
        json!([addr("ip6", "saddr", "!=", prefix("fd43::", 48)),
               {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}])
    );
    assert_eq!(
        *table.rules_of("fwd-from-red")[3],
        json!([addr("ip6", "daddr", "==", json!("@subnets-v6")),
               addr("ip6", "daddr", "!=", prefix("fd43::", 48)), {"drop": null}])
    );
    // A full-length prefix is a plain address, as nft lists it.
    nets[0].subnets.push("fd42::7/128".parse().unwrap());
    let table = ruleset(&nets).unwrap().unwrap();
    assert!(table.elements_of("subnets-v6").contains(&"\"fd42::7\""));
}

#[test]
fn invalid_networks_build_nothing() {
    let mut nets = [blue(), red_internal()];
    nets[1].interfaces.push(IfMatch::Exact("w0-x".into()));
    assert!(ruleset(&nets).is_err());
}

/// The size of the table is a + b·n: rules and elements grow by the same
/// amount from 1 to 1+m networks as from 1+m to 1+2m. A design with a rule
/// per pair of networks (the one this replaced) fails this.
#[test]
fn the_table_grows_linearly_with_the_networks() {
    // Networks 1…n: every third is internal (an extra rule and elements),
    // so m is a multiple of 3 and both steps add as many of each kind.
    let size = |n: usize| {
        let nets: Vec<NetworkRules> = (1..=n).map(numbered).collect();
        let table = ruleset(&nets).unwrap().unwrap();
        (table.rule_count(), table.element_count())
    };
    for m in [12, 48] {
        let (r1, e1) = size(1);
        let (r2, e2) = size(1 + m);
        let (r3, e3) = size(1 + 2 * m);
        assert_eq!(
            r3 - r2,
            r2 - r1,
            "rules for 1, {}, {} networks",
            1 + m,
            1 + 2 * m
        );
        assert_eq!(
            e3 - e2,
            e2 - e1,
            "elements for 1, {}, {} networks",
            1 + m,
            1 + 2 * m
        );
    }
    // A handful per network, whatever the count.
    let (rules, elements) = size(250);
    assert!(
        rules <= 12 * 250 && elements <= 10 * 250,
        "{rules} rules, {elements} elements"
    );
}

/// No rule of a network's chains names another network: adding a network
/// can never require rewriting another's chains.
#[test]
fn a_networks_chains_name_only_that_network() {
    let nets: Vec<NetworkRules> = (0..20).map(numbered).collect();
    let table = ruleset(&nets).unwrap().unwrap();
    let alone = |i: usize| ruleset(&[numbered(i)]).unwrap().unwrap();
    for i in [0, 1, 7, 19] {
        for chain in [
            forward_chain_name(&nets[i].name),
            input_chain_name(&nets[i].name),
        ] {
            assert_eq!(
                table.rules_of(&chain),
                alone(i).rules_of(&chain),
                "{chain} depends on the other networks"
            );
        }
    }
}

#[test]
fn the_same_networks_always_build_the_same_table() {
    let a = ruleset(&[blue(), red_internal()]).unwrap();
    let b = ruleset(&[red_internal(), blue()]).unwrap();
    assert_eq!(a, b);
}
