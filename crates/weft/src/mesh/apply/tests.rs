use super::*;

#[test]
fn dns_records_become_labels_grouped_by_name() {
    let record = |name: &str, address: &str| DnsRecord {
        name: name.into(),
        address: address.parse().unwrap(),
    };
    let args = names_set_args(
        "blue",
        "mesh.local",
        &[
            record("web.mesh.local", "10.42.1.2"),
            record("db.mesh.local", "10.42.2.2"),
            record("web.mesh.local", "10.42.2.3"),
            record("other.example", "10.42.3.2"),
        ],
    );
    assert_eq!(
        args,
        [
            "names",
            "set",
            "blue",
            "--source",
            NAMES_SOURCE,
            "db=10.42.2.2",
            "other.example=10.42.3.2",
            "web=10.42.1.2,10.42.2.3",
        ]
    );
}

#[test]
fn network_create_says_internal_only_when_it_is() {
    let subnet: IpNet = "10.42.0.0/16".parse().unwrap();
    let block: IpNet = "10.42.1.0/24".parse().unwrap();
    let open = network_create_args("blue", subnet, block, 51820, false, "mesh.local", None);
    assert_eq!(
        open.join(" "),
        "network create blue --subnet 10.42.0.0/16 --block 10.42.1.0/24 \
             --listen-port 51820 --domain mesh.local"
    );
    let internal = network_create_args("blue", subnet, block, 51820, true, "mesh.local", None);
    assert_eq!(internal.last().map(String::as_str), Some("--internal"));
    let vx = VxlanNetworkPlan {
        vni: 300,
        over: Some("blue".into()),
    };
    let segment = network_create_args("sec", subnet, block, 0, false, "mesh.local", Some(&vx));
    assert_eq!(
        segment.join(" "),
        "network create sec --subnet 10.42.0.0/16 --block 10.42.1.0/24 \
             --mode vxlan --vni 300 --over blue --domain mesh.local"
    );
}

#[test]
fn resolv_conf_from_an_attachment() {
    let att = serde_json::json!({
        "dns": {"nameservers": ["10.42.1.1"], "search": ["mesh.local", "example"]}
    });
    assert_eq!(
        resolv_conf(&att),
        "nameserver 10.42.1.1\nsearch mesh.local example\n"
    );
    let bare = serde_json::json!({"dns": {"nameservers": ["10.42.1.1"]}});
    assert_eq!(resolv_conf(&bare), "nameserver 10.42.1.1\n");
}
