use super::*;

fn att() -> pb::Attachment {
    pb::Attachment {
        network: "blue".into(),
        id: "c1".into(),
        ifname: "eth0".into(),
        host_ifname: "w0-c1".into(),
        address: "10.42.1.2/32".into(),
        gateway: "10.42.1.1".into(),
        mac: "02:00:00:00:00:01".into(),
        host_mac: "02:00:00:00:00:02".into(),
        default_route: true,
        subnet: "10.42.0.0/16".into(),
        mtu: 1420,
        ..Default::default()
    }
}

#[test]
fn results_per_version() {
    let r = add_result("1.1.0", &att(), "/run/netns/c1", None, None);
    assert_eq!(r["cniVersion"], "1.1.0");
    assert_eq!(r["interfaces"][0]["name"], "w0-c1");
    assert!(r["interfaces"][0].get("sandbox").is_none());
    assert_eq!(r["interfaces"][1]["sandbox"], "/run/netns/c1");
    assert_eq!(r["ips"][0]["interface"], 1);
    assert_eq!(r["ips"][0]["gateway"], "10.42.1.1");
    assert!(r["ips"][0].get("version").is_none());
    assert_eq!(r["routes"][0]["dst"], "0.0.0.0/0");
    let old = add_result("0.4.0", &att(), "/run/netns/c1", None, None);
    assert_eq!(old["ips"][0]["version"], "4");
    assert!(old["interfaces"][1].get("mtu").is_none());
    let second = pb::Attachment {
        default_route: false,
        ..att()
    };
    let r = add_result("1.0.0", &second, "/run/netns/c1", None, None);
    assert_eq!(r["routes"][0]["dst"], "10.42.0.0/16");
}

#[test]
fn appends_to_a_previous_result() {
    let prev = json!({"cniVersion":"1.0.0","interfaces":[{"name":"x"}],"ips":[{"address":"192.168.1.2/24","interface":0}]});
    let dns = json!({"nameservers":["10.42.1.1"]});
    let r = add_result("1.0.0", &att(), "/ns", Some(&prev), Some(&dns));
    assert_eq!(r["interfaces"].as_array().unwrap().len(), 3);
    assert_eq!(r["ips"][1]["interface"], 2);
    assert_eq!(r["dns"]["nameservers"][0], "10.42.1.1");
}

#[test]
fn dns_from_the_agent_and_the_config() {
    let agent = pb::Dns {
        nameservers: vec!["10.42.1.1".into()],
        domain: "mesh.local".into(),
        search: vec!["mesh.local".into()],
    };
    let conf = json!({"nameservers": ["10.42.1.1", "192.0.2.53"], "search": ["corp.example"], "options": ["ndots:2"]});
    let d = dns(Some(&agent), Some(&conf));
    assert_eq!(d["nameservers"], json!(["10.42.1.1", "192.0.2.53"]));
    assert_eq!(d["search"], json!(["mesh.local", "corp.example"]));
    assert_eq!(d["domain"], "mesh.local");
    assert_eq!(d["options"], json!(["ndots:2"]));
}

#[test]
fn check_compares_with_the_previous_result() {
    let prev = add_result("1.1.0", &att(), "/ns", None, None);
    assert!(check_prev(&prev, &att(), "/ns").is_ok());
    assert!(check_prev(&prev, &att(), "/other").is_err());
    let moved = pb::Attachment {
        address: "10.42.1.9/32".into(),
        ..att()
    };
    assert!(
        check_prev(&prev, &moved, "/ns")
            .unwrap_err()
            .msg
            .contains("10.42.1.9")
    );
    let remac = pb::Attachment {
        mac: "02:00:00:00:00:99".into(),
        ..att()
    };
    assert!(check_prev(&prev, &remac, "/ns").is_err());
}
