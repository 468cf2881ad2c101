use super::*;

fn request<'a>(mtu: Option<u32>, over: Option<&'a str>, vni: Option<u32>) -> VxlanRequest<'a> {
    VxlanRequest {
        name: "lan",
        subnet: "10.50.0.0/16",
        site: "edge",
        vni,
        mtu,
        over,
        internal: false,
        domain: "",
        block_prefix: None,
    }
}

#[test]
fn a_vxlan_spec_keeps_its_site_and_settings() {
    let spec = NetworkSpec::vxlan(request(Some(1400), None, Some(100))).unwrap();
    assert_eq!(spec.mode, Mode::Vxlan);
    let vx = spec.vxlan.unwrap();
    assert_eq!(
        (vx.site.as_str(), vx.vni, vx.mtu),
        ("edge", Some(100), Some(1400))
    );
    let over = NetworkSpec::vxlan(request(Some(1370), Some("blue"), None)).unwrap();
    assert_eq!(over.vxlan.unwrap().over.as_deref(), Some("blue"));
}

#[test]
fn vxlan_errors_name_their_field() {
    let cases = [
        (request(None, None, Some(0)), "vni"),
        (request(None, None, Some(16_777_216)), "vni"),
        (request(Some(575), None, None), "mtu"),
        (request(Some(1451), None, None), "mtu"),
        // Inside WireGuard (1420) there is less room.
        (request(Some(1371), Some("blue"), None), "mtu"),
        (request(None, Some("Blue!"), None), "over"),
        (request(None, Some("lan"), None), "over"),
        (
            VxlanRequest {
                site: "Edge",
                ..request(None, None, None)
            },
            "site",
        ),
        (
            VxlanRequest {
                subnet: "10.50.0.0/33",
                ..request(None, None, None)
            },
            "subnet",
        ),
    ];
    for (req, field) in cases {
        let err = NetworkSpec::vxlan(req).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("invalid {field}")),
            "{field}: {err}"
        );
    }
}

#[test]
fn vnis_are_unique_in_a_site_and_picked_lowest_free() {
    let taken = vec![
        ("a".to_string(), FIRST_ASSIGNED_VNI),
        ("b".to_string(), 100),
    ];
    assert_eq!(assign_vni(None, &taken), Ok(FIRST_ASSIGNED_VNI + 1));
    assert_eq!(assign_vni(None, &[]), Ok(FIRST_ASSIGNED_VNI));
    assert_eq!(assign_vni(Some(100), &taken), Err("b".to_string()));
    assert_eq!(assign_vni(Some(101), &taken), Ok(101));
}
