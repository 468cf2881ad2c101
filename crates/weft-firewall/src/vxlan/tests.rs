use serde_json::{Value, json};

use super::*;
use crate::model::{BridgePorts, IfMatch, LocalGateway};
use crate::ruleset::ruleset;

/// VXLAN network `name` on bridge `weft-vbr<i>` with `vxlan`.
pub(crate) fn segment(name: &str, i: u32, subnet: &str, vxlan: VxlanSources) -> NetworkRules {
    NetworkRules {
        name: name.into(),
        subnets: vec![subnet.parse().unwrap()],
        interfaces: vec![IfMatch::Exact(format!("weft-vbr{i}"))],
        internal: false,
        bridge_ports: Some(BridgePorts {
            prefix: "fn-".into(),
            ports: vec![],
            local_gateway: Some(LocalGateway {
                port: format!("weft-vx{i}"),
                ip: "10.50.255.254".parse().unwrap(),
            }),
        }),
        host_services: None,
        vxlan: Some(vxlan),
    }
}

fn sources(vni: u32, port: u16, over: Option<&str>, vteps: &[&str]) -> VxlanSources {
    VxlanSources {
        vni,
        port,
        over: over.map(Into::into),
        vteps: vteps.iter().map(|v| v.parse().unwrap()).collect(),
    }
}

fn iif(name: &str) -> Value {
    json!({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": name}})
}

fn saddr(protocol: &str, right: Value) -> Value {
    json!({"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": "saddr"}},
                     "right": right}})
}

fn counted_drop() -> Value {
    json!([{"counter": {"packets": 0, "bytes": 0}}, {"drop": null}])
}

#[test]
fn each_network_takes_its_port_and_vni_only_from_its_vteps() {
    let red = segment(
        "red",
        0,
        "10.50.0.0/16",
        sources(100, 4789, None, &["192.0.2.3", "192.0.2.2", "2001:db8::2"]),
    );
    // The same port, another VNI, inside WireGuard network blue (wg0).
    let sec = segment(
        "sec",
        1,
        "10.60.0.0/16",
        sources(300, 4789, Some("wg0"), &["10.42.2.1"]),
    );
    let table = ruleset(&[red, sec]).unwrap().unwrap();
    assert_eq!(table.elements_of(VXLAN_PORTS), ["4789"]);
    assert_eq!(
        *table.rules_of("input")[0],
        json!([
            {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
                       "right": "@vxlan-ports"}},
            {"jump": {"target": "vxlan-in"}}
        ])
    );
    let dispatch = |port: u16, vni: u32, chain: &str| {
        json!([
            {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
                       "right": port}},
            {"match": {"op": "==", "left": {"payload": {"base": "th", "offset": 96, "len": 24}},
                       "right": vni}},
            {"jump": {"target": chain}}
        ])
    };
    let vxlan_in: Vec<Value> = table.rules_of(VXLAN_IN).into_iter().cloned().collect();
    assert_eq!(
        vxlan_in,
        [
            json!([
                {"match": {"op": "==", "left": {"exthdr": {"name": "frag"}}, "right": true}},
                {"counter": {"packets": 0, "bytes": 0}},
                {"drop": null}
            ]),
            dispatch(4789, 100, "vxlan-from-red"),
            dispatch(4789, 300, "vxlan-from-sec"),
        ]
    );
    // Sorted, as nft lists an anonymous set; each family its own rule.
    let ret = json!({"return": null});
    assert_eq!(
        table.rules_of("vxlan-from-red"),
        [
            &json!([saddr("ip", json!({"set": ["192.0.2.2", "192.0.2.3"]})), ret]),
            &json!([saddr("ip6", json!("2001:db8::2")), ret]),
            &counted_drop(),
        ]
    );
    // Inside WireGuard: only through its interface.
    assert_eq!(
        table.rules_of("vxlan-from-sec"),
        [
            &json!([iif("wg0"), saddr("ip", json!("10.42.2.1")), ret]),
            &counted_drop(),
        ]
    );
}

#[test]
fn a_network_without_vteps_takes_nothing_and_no_vxlan_network_needs_no_chain() {
    let lonely = segment("red", 0, "10.50.0.0/16", sources(100, 4789, None, &[]));
    let table = ruleset(&[lonely]).unwrap().unwrap();
    assert_eq!(table.rules_of("vxlan-from-red"), [&counted_drop()]);

    let blue = crate::ruleset::tests::blue();
    let table = ruleset(&[blue]).unwrap().unwrap();
    assert!(table.elements_of(VXLAN_PORTS).is_empty());
    assert_eq!(table.rules_of(VXLAN_IN).len(), 1, "only the fragment drop");
    assert!(
        !table
            .chain_names()
            .iter()
            .any(|c| c.starts_with("vxlan-from-"))
    );
}

#[test]
fn a_vtep_change_rewrites_only_its_networks_chain() {
    let red = |vteps: &[&str]| segment("red", 0, "10.50.0.0/16", sources(100, 4789, None, vteps));
    let green = segment(
        "green",
        1,
        "10.70.0.0/16",
        sources(200, 4790, None, &["192.0.2.9"]),
    );
    let before = ruleset(&[red(&["192.0.2.2"]), green.clone()])
        .unwrap()
        .unwrap();
    let after = ruleset(&[red(&["192.0.2.2", "192.0.2.3"]), green])
        .unwrap()
        .unwrap();
    let batch = crate::changes(&crate::Listed::Table(before), Some(&after)).unwrap();
    assert_eq!(batch.kind, crate::ChangeKind::Update);
    let touched: Vec<String> = batch
        .commands()
        .iter()
        .filter_map(|c| {
            let (verb, body) = c.as_object()?.iter().next()?;
            let object = body.get("chain").or(body.get("rule"))?;
            let chain = object.get("chain").or(object.get("name"))?;
            Some(format!("{verb} {}", chain.as_str()?))
        })
        .collect();
    assert!(
        touched.iter().all(|t| t.ends_with("vxlan-from-red")),
        "{touched:?}"
    );
    assert!(!touched.is_empty());
}

#[test]
fn bad_vxlan_sources_build_nothing() {
    let cases = [
        (
            vec![segment(
                "red",
                0,
                "10.50.0.0/16",
                sources(0, 4789, None, &[]),
            )],
            "VNI 0",
        ),
        (
            vec![segment(
                "red",
                0,
                "10.50.0.0/16",
                sources(1 << 24, 4789, None, &[]),
            )],
            "must be 1-16777215",
        ),
        (
            vec![segment(
                "red",
                0,
                "10.50.0.0/16",
                sources(7, 4789, Some("wg0 x"), &[]),
            )],
            "is not allowed in an interface name",
        ),
        (
            vec![
                segment("red", 0, "10.50.0.0/16", sources(7, 4789, None, &[])),
                segment("sec", 1, "10.60.0.0/16", sources(7, 4789, Some("wg0"), &[])),
            ],
            "network sec: VXLAN port 4789 VNI 7: also network red's",
        ),
    ];
    for (nets, want) in cases {
        let err = ruleset(&nets).unwrap_err().to_string();
        assert!(err.contains(want), "{want:?} not in {err:?}");
    }
    // The same VNI on another port is another network.
    let nets = [
        segment("red", 0, "10.50.0.0/16", sources(7, 4789, None, &[])),
        segment("sec", 1, "10.60.0.0/16", sources(7, 4790, None, &[])),
    ];
    assert!(ruleset(&nets).is_ok());
}
