use super::*;

fn att(network: &str, id: &str, kind: &str, ifname: &str, default_route: bool) -> pb::Attachment {
    pb::Attachment {
        network: network.into(),
        id: id.into(),
        kind: kind.into(),
        ifname: ifname.into(),
        host_ifname: format!("w0-{id}-{ifname}"),
        address: "10.42.1.2/32".into(),
        gateway: "10.42.1.1".into(),
        subnet: "10.42.0.0/16".into(),
        mac: "02:00:00:00:00:01".into(),
        default_route,
        mtu: 1420,
        queues: 1,
        ..Default::default()
    }
}

#[test]
fn a_vms_nics_come_in_guest_order_and_unknown_ids_are_named() {
    let all = [
        att("red", "vm1", "vm", "eth1", false),
        att("blue", "c1", "netns", "eth0", true),
        att("blue", "vm1", "vm", "eth0", true),
        att("green", "vm1", "vm", "eth10", false),
        att("gray", "vm1", "vm", "eth2", false),
    ];
    let (nics, _) = nics_of(&all, "vm1").unwrap();
    let order: Vec<&str> = nics.iter().map(|n| n.ifname.as_str()).collect();
    assert_eq!(order, ["eth0", "eth1", "eth2", "eth10"]);
    for id in ["c1", "nope"] {
        let err = nics_of(&all, id).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("no VM \"{id}\" is attached on this host (weft attach NETWORK --vm {id})")
        );
    }
}

#[test]
fn shell_lines_quote_only_what_needs_it() {
    let args = [
        "--net".to_string(),
        "tap=w0-a-0,mac=02:aa:00:00:00:01".to_string(),
        "a b".to_string(),
    ];
    assert_eq!(
        shell_words(&args),
        "--net tap=w0-a-0,mac=02:aa:00:00:00:01 'a b'"
    );
}
