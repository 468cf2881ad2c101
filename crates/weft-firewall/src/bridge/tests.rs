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
    assert_eq!(rules.len(), 4, "{rules:#?}");
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
