//! Table `bridge weft`: on a bridge network a workload sends only from its
//! own MAC and address. Frames between two ports of one bridge never reach
//! the `inet` hooks, so this check lives in the bridge family: each
//! workload port is pinned to its MAC (every frame) and its address (IPv4
//! and ARP), and a port named like a workload's that is not (yet) pinned
//! carries nothing. A VM's DHCP request, sent before it has an address,
//! passes once its MAC has been checked.
//!
//! ```text
//! table bridge weft {
//!   set ports     { type ifname; flags interval }     prefixes ("fn-*")
//!   set port-macs { type ifname . ether_addr }        port . MAC
//!   set port-ips  { type ifname . ipv4_addr }         port . address
//!   # with VXLAN networks only:
//!   set local-gateways { type ifname . ipv4_addr }    VXLAN device . gateway
//!   chain prerouting {    # filter hook prerouting, policy accept
//!     iifname @ports iifname . ether saddr != @port-macs counter drop
//!     ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp dport 67 accept
//!     iifname @ports iifname . ip saddr != @port-ips counter drop
//!     iifname @ports iifname . arp saddr ip != @port-ips counter drop
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
mod tests {
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
}
