use super::*;

#[test]
fn labels() {
    assert!(validate_label("name", "acme-1").is_ok());
    for bad in ["", "-a", "a-", "A", "a b", &"a".repeat(64)] {
        let err = validate_label("name", bad).unwrap_err().to_string();
        assert!(err.starts_with("invalid name"), "{err}");
    }
}

#[test]
fn network_specs_fill_defaults() {
    let spec = NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap();
    assert_eq!(spec.block_prefix, 24);
    assert_eq!(spec.domain, "mesh.local");
    assert_eq!(spec.mode, Mode::Wireguard);
    let small = NetworkSpec::new("s", "10.9.0.0/28", "wireguard", true, "x.test", None);
    assert_eq!(small.unwrap().block_prefix, 28);
}

#[test]
fn network_spec_errors_name_their_field() {
    let cases = [
        (("Blue", "10.42.0.0/16", "", "", None), "network name"),
        (("blue", "10.42.0.0/33", "", "", None), "subnet"),
        (("blue", "127.0.0.0/8", "", "", None), "subnet"),
        (("blue", "10.42.0.0/16", "bridge", "", None), "mode"),
        (("blue", "10.42.0.0/16", "", "a..b", None), "domain"),
        (("blue", "10.42.0.0/16", "", "", Some(8)), "block_prefix"),
        (("blue", "10.42.0.0/16", "", "", Some(32)), "block_prefix"),
        (("blue", "10.42.0.0/16", "", "", Some(40)), "block_prefix"),
    ];
    for ((name, subnet, mode, domain, prefix), field) in cases {
        let err = NetworkSpec::new(name, subnet, mode, false, domain, prefix)
            .unwrap_err()
            .to_string();
        assert!(err.contains(field), "{field}: {err}");
    }
}
