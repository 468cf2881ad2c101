use super::*;

#[test]
fn modes() {
    assert_eq!(Mode::parse("").unwrap(), Mode::Wireguard);
    assert_eq!(Mode::parse("bridge").unwrap(), Mode::Bridge);
    assert_eq!(Mode::parse("vxlan").unwrap(), Mode::Vxlan);
    assert!(Mode::Vxlan.is_bridged() && Mode::Bridge.is_bridged());
    assert!(!Mode::Wireguard.is_bridged());
    let err = Mode::parse("vlan").unwrap_err().to_string();
    assert!(err.contains("mode") && err.contains("vlan"), "{err}");
    for m in Mode::ALL {
        assert_eq!(Mode::parse(m.as_str()).unwrap(), m);
    }
}

#[test]
fn vnis_and_mtus() {
    assert_eq!(validate_vni(1).unwrap(), 1);
    assert_eq!(validate_vni(VNI_MAX).unwrap(), VNI_MAX);
    for bad in [0, VNI_MAX + 1] {
        let err = validate_vni(bad).unwrap_err().to_string();
        assert!(err.contains("vni") && err.contains("16777215"), "{err}");
    }
    assert_eq!(vxlan_mtu(1500, false), 1450);
    assert_eq!(vxlan_mtu(1420, false), 1370);
    assert_eq!(vxlan_mtu(1500, true), 1430);
}

#[test]
fn default_blocks() {
    let n = |s: &str| s.parse::<IpNet>().unwrap();
    assert_eq!(
        default_block(Mode::Wireguard, &n("10.42.0.0/16")),
        n("10.42.0.0/24")
    );
    assert_eq!(
        default_block(Mode::Wireguard, &n("10.42.7.0/28")),
        n("10.42.7.0/28")
    );
    assert_eq!(
        default_block(Mode::Bridge, &n("10.88.0.0/16")),
        n("10.88.0.0/16")
    );
    assert_eq!(
        default_block(Mode::Vxlan, &n("10.50.0.0/16")),
        n("10.50.0.0/24")
    );
    assert_eq!(
        default_block(Mode::Wireguard, &n("fd00::/48")),
        n("fd00::/64")
    );
}
