use super::*;
use crate::model::{BridgePort, BridgePorts, IfMatch};

fn bridge_net(ports: Vec<BridgePort>) -> NetworkRules {
    NetworkRules {
        name: "br".into(),
        subnets: vec!["10.88.0.0/16".parse().unwrap()],
        interfaces: vec![IfMatch::Exact("weft-br0".into())],
        internal: false,
        bridge_ports: Some(BridgePorts {
            prefix: "fn-".into(),
            ports,
            local_gateway: None,
        }),
        host_services: None,
        vxlan: None,
    }
}

#[test]
fn no_bridge_networks_only_delete_the_table() {
    let batch = bridge_batch(&[]);
    let verbs: Vec<String> = batch["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_object().unwrap().keys().next().unwrap().clone())
        .collect();
    assert_eq!(verbs, ["add", "delete"]);
}

#[test]
fn each_port_is_pinned_to_its_mac_and_address() {
    let port = BridgePort {
        ifname: "fn-c1".into(),
        mac: [0x02, 0xab, 0, 1, 2, 3],
        ip: "10.88.0.2".parse().unwrap(),
    };
    let text = bridge_batch(&[bridge_net(vec![port])]).to_string();
    for want in [
        r#""elem":["fn-*"]"#,
        r#"{"concat":["fn-c1","02:ab:00:01:02:03"]}"#,
        r#"{"concat":["fn-c1","10.88.0.2"]}"#,
        r#""field":"saddr ip""#,
    ] {
        assert!(text.contains(want), "{want} not in {text}");
    }
    // A bridge network without workloads still closes its ports.
    let text = bridge_batch(&[bridge_net(vec![])]).to_string();
    assert!(text.contains(r#""elem":["fn-*"]"#) && !text.contains("concat\":[\"fn-c"));
    // Bridges alone need no gateway rules.
    assert!(!text.contains("local-gateways"), "{text}");
}

#[test]
fn a_vxlan_gateway_keeps_its_arp_off_the_vxlan_device() {
    let mut net = bridge_net(vec![]);
    net.bridge_ports.as_mut().unwrap().local_gateway = Some(crate::model::LocalGateway {
        port: "weft-vx0".into(),
        ip: "10.50.255.254".parse().unwrap(),
    });
    let batch = bridge_batch(&[net]);
    let text = batch.to_string();
    assert!(
        text.contains(r#"{"concat":["weft-vx0","10.50.255.254"]}"#),
        "{text}"
    );
    // Into and out of the device, asked for and announced: four drops.
    let drops = batch["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.to_string().contains("@local-gateways"))
        .count();
    assert_eq!(drops, 4, "{text}");
    assert!(text.contains(r#""hook":"postrouting""#), "{text}");
}

#[test]
fn dhcp_requests_pass_only_after_the_mac_check() {
    let batch = bridge_batch(&[bridge_net(vec![])]);
    let rules: Vec<String> = batch["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.get("add")?.get("rule"))
        .map(|r| r["expr"].to_string())
        .collect();
    assert_eq!(rules.len(), 6, "{rules:#?}");
    assert!(rules[0].contains("ether"), "{}", rules[0]);
    for want in [
        r#""right":"0.0.0.0""#,
        r#""right":"255.255.255.255""#,
        r#""right":67"#,
        "accept",
    ] {
        assert!(rules[1].contains(want), "{want} not in {}", rules[1]);
    }
    assert!(rules[2].contains(r#""field":"saddr""#) && rules[2].contains("drop"));
}

#[test]
fn no_dhcp_answer_or_router_advertisement_from_a_workload_or_vxlan_port() {
    let mut vxlan = bridge_net(vec![]);
    vxlan.name = "lan".into();
    vxlan.interfaces = vec![IfMatch::Exact("weft-vbr0".into())];
    vxlan.subnets = vec!["10.50.0.0/16".parse().unwrap()];
    vxlan.bridge_ports.as_mut().unwrap().local_gateway = Some(crate::model::LocalGateway {
        port: "weft-vx0".into(),
        ip: "10.50.255.254".parse().unwrap(),
    });
    let batch = bridge_batch(&[bridge_net(vec![]), vxlan]);
    let commands = batch["nftables"].as_array().unwrap();
    let elements = commands
        .iter()
        .filter_map(|c| c.get("add")?.get("element"))
        .find(|e| e["name"] == "workload-ports")
        .expect("workload-ports filled");
    // Both bridges' ports share the prefix; the VXLAN device is its own.
    assert_eq!(elements["elem"], serde_json::json!(["fn-*", "weft-vx0"]));
    let drops: Vec<String> = commands
        .iter()
        .filter_map(|c| c.get("add")?.get("rule"))
        .map(|r| r["expr"].to_string())
        .filter(|e| e.contains("@workload-ports"))
        .collect();
    assert_eq!(drops.len(), 2, "{drops:#?}");
    assert!(
        drops[0].contains(r#""right":{"set":[68,546]}"#),
        "{}",
        drops[0]
    );
    assert!(drops[1].contains("nd-router-advert"), "{}", drops[1]);
    assert!(drops.iter().all(|d| d.ends_with(r#"{"drop":null}]"#)));
}

fn port(name: &str, last: u8) -> BridgePort {
    BridgePort {
        ifname: name.into(),
        mac: [0x02, 0, 0, 0, 0, last],
        ip: format!("10.88.0.{last}").parse().unwrap(),
    }
}

#[test]
fn an_attach_or_detach_changes_the_pins_alone() {
    let before = bridge_table(&[bridge_net(vec![port("fn-a", 2), port("fn-b", 3)])]);
    let after = bridge_table(&[bridge_net(vec![port("fn-a", 2), port("fn-c", 4)])]);
    // Same networks, other ports: the same skeleton.
    assert_eq!(before.skeleton_text(), after.skeleton_text());
    assert!(!before.skeleton_text().contains("fn-a"));
    // B's two pins go, C's two come: nothing else.
    let (deleted, added) = pins_change(&before.pins, &after.pins).unwrap();
    let text = |pins: &Pins| {
        pins.sets()
            .map(|(set, e)| format!("{set}: {}", e.keys().cloned().collect::<Vec<_>>().join(" ")))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        text(&deleted),
        [
            r#"port-macs: {"concat":["fn-b","02:00:00:00:00:03"]}"#,
            r#"port-ips: {"concat":["fn-b","10.88.0.3"]}"#
        ]
    );
    assert_eq!(
        text(&added),
        [
            r#"port-macs: {"concat":["fn-c","02:00:00:00:00:04"]}"#,
            r#"port-ips: {"concat":["fn-c","10.88.0.4"]}"#
        ]
    );
    assert!(pins_change(&after.pins, &after.pins).is_none());
    // A port pinned again to another MAC loses the old pin; its address
    // pin stays.
    let mut moved = port("fn-a", 2);
    moved.mac[5] = 9;
    let again = bridge_table(&[bridge_net(vec![moved, port("fn-c", 4)])]);
    let (deleted, added) = pins_change(&after.pins, &again.pins).unwrap();
    assert_eq!(
        text(&deleted),
        [
            r#"port-macs: {"concat":["fn-a","02:00:00:00:00:02"]}"#,
            "port-ips: "
        ]
    );
    assert_eq!(
        text(&added),
        [
            r#"port-macs: {"concat":["fn-a","02:00:00:00:00:09"]}"#,
            "port-ips: "
        ]
    );
}

#[test]
fn another_network_changes_the_skeleton() {
    let one = bridge_table(&[bridge_net(vec![])]);
    let mut other = bridge_net(vec![]);
    other.bridge_ports.as_mut().unwrap().local_gateway = Some(crate::model::LocalGateway {
        port: "weft-vx0".into(),
        ip: "10.50.255.254".parse().unwrap(),
    });
    assert_ne!(one.skeleton_text(), bridge_table(&[other]).skeleton_text());
    assert!(!bridge_table(&[]).has_ports() && one.has_ports());
}

#[test]
fn a_listing_reads_back_as_skeleton_and_pins() {
    let table = bridge_table(&[bridge_net(vec![port("fn-a", 2)])]);
    // As nft 1.0.6 lists such a table (abridged): counters and metainfo
    // do not count, the pins' elements are read apart.
    let listing = |packets: u32, ip: &str| {
        format!(
            r#"{{"nftables": [{{"metainfo": {{"version": "1.0.6"}}}},
            {{"table": {{"family": "bridge", "name": "weft", "handle": 1}}}},
            {{"set": {{"family": "bridge", "name": "port-macs", "table": "weft",
              "type": ["ifname", "ether_addr"], "handle": 2,
              "elem": [{{"concat": ["fn-a", "02:00:00:00:00:02"]}}]}}}},
            {{"set": {{"family": "bridge", "name": "port-ips", "table": "weft",
              "type": ["ifname", "ipv4_addr"], "handle": 3,
              "elem": [{{"concat": ["fn-a", "{ip}"]}}]}}}},
            {{"rule": {{"family": "bridge", "table": "weft", "chain": "prerouting",
              "handle": 9, "expr": [{{"counter": {{"packets": {packets}, "bytes": 0}}}},
              {{"drop": null}}]}}}}]}}"#
        )
    };
    let (skeleton, pins) = read_listing(&listing(0, "10.88.0.2")).unwrap();
    assert_eq!(pins, table.pins);
    assert!(!skeleton.contains("fn-a") && !skeleton.contains("metainfo"));
    // Traffic moves counters only: the same skeleton.
    assert_eq!(read_listing(&listing(7, "10.88.0.2")).unwrap().0, skeleton);
    // A pin changed by hand: other pins.
    assert_ne!(
        read_listing(&listing(0, "10.88.0.9")).unwrap().1,
        table.pins
    );
    assert_eq!(read_listing("").unwrap(), (String::new(), Pins::default()));
    assert_eq!(read_listing("not json"), None);
}
