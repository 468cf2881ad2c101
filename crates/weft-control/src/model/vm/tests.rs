use super::*;
use crate::model::{Mode, NetworkSpec};

fn host() -> HostId {
    HostId::parse("host", "00112233445566aa").unwrap()
}

fn nic(network: &str, ip: Option<&str>) -> VmNicSpec {
    VmNicSpec::new("nics[0]", network, ip).unwrap()
}

#[test]
fn vm_requests_are_checked_field_by_field() {
    let ok = VmSpec::new("web-1", host(), vec![nic("blue", Some("10.0.0.9"))]).unwrap();
    assert_eq!(ok.nics[0].ip, Some("10.0.0.9".parse().unwrap()));
    let field = |r: Result<VmSpec, VmError>| r.unwrap_err().field;
    assert_eq!(field(VmSpec::new("Web", host(), vec![])), "id");
    assert_eq!(field(VmSpec::new("", host(), vec![])), "id");
    let twice = vec![nic("blue", None), nic("red", None), nic("blue", None)];
    assert_eq!(field(VmSpec::new("web", host(), twice)), "nics[2].network");
    let many: Vec<VmNicSpec> = (0..=MAX_NICS)
        .map(|i| nic(&format!("n{i}"), None))
        .collect();
    assert_eq!(field(VmSpec::new("web", host(), many)), "nics");
    let err = VmNicSpec::new("nics[3]", "blue", Some("10.0.0.x")).unwrap_err();
    assert_eq!(err.field, "nics[3].ip");
    assert!(
        err.to_string()
            .starts_with("invalid nics[3].ip \"10.0.0.x\""),
        "{err}"
    );
    let err = VmNicSpec::new("nics[1]", "No Such", None).unwrap_err();
    assert_eq!(err.field, "nics[1].network");
}

#[test]
fn a_nic_is_placed_only_in_a_network_and_block_of_its_host() {
    let tenant = TenantId::parse("tenant", "aabbccddeeff0011").unwrap();
    let net = |name: &str, subnet: &str| Network {
        tenant: tenant.clone(),
        spec: NetworkSpec::new(name, subnet, "", false, "", None).unwrap(),
        created_at: 0,
    };
    let networks = [net("blue", "10.1.0.0/16"), net("red", "10.2.0.0/16")];
    assert_eq!(networks[0].spec.mode, Mode::Wireguard);
    let blocks = [HostBlock {
        network: "blue".into(),
        host: host(),
        block: "10.1.3.0/24".parse().unwrap(),
    }];
    let place = |nics: &[VmNicSpec], first| check_placement(nics, first, &networks, &blocks);
    assert!(place(&[nic("blue", Some("10.1.3.7"))], 0).is_ok());
    assert!(place(&[nic("blue", None)], 0).is_ok());
    let err = place(&[nic("blue", Some("10.1.4.7"))], 2).unwrap_err();
    assert_eq!(err.field, "nics[2].ip");
    assert!(err.why.contains("10.1.3.0/24"), "{err}");
    let err = place(&[nic("red", None)], 0).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.why.as_str()),
        ("nics[0].network", "the VM's host is not in this network")
    );
    let err = place(&[nic("green", None)], 1).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.why.as_str()),
        ("nics[1].network", "not a network of this tenant")
    );
}

#[test]
fn a_reported_nic_becomes_the_guests_nic() {
    let reported = ReportedNic {
        vm: "web".into(),
        network: "blue".into(),
        ifname: "eth0".into(),
        tap: "wv12ab".into(),
        mac: "52:54:00:aa:bb:cc".into(),
        address: "10.1.3.2/24".parse().unwrap(),
        gateway: "10.1.3.1".parse().unwrap(),
        subnet: "10.1.0.0/16".parse().unwrap(),
        mtu: 1420,
        dns: vec![],
        domain: "mesh.local".into(),
        default_route: true,
        queues: 0,
        run: None,
    };
    let guest = reported.guest().unwrap();
    assert_eq!(guest.mac, [0x52, 0x54, 0, 0xaa, 0xbb, 0xcc]);
    assert_eq!(guest.queues, 1, "no queue count reported: one pair");
    let bad = ReportedNic {
        mac: "zz".into(),
        ..reported
    };
    assert!(bad.guest().is_none());
}
