use super::*;

#[test]
fn network_names_are_dns_labels() {
    assert!(validate_network_name("blue").is_ok());
    assert!(validate_network_name("net-2").is_ok());
    for bad in ["", "Blue", "a_b", "-a", "a-", "a.b", &"x".repeat(33)] {
        let err = validate_network_name(bad).unwrap_err().to_string();
        assert!(err.contains("network name"), "{err}");
    }
}

#[test]
fn workload_names_and_domains() {
    for good in ["web", "c1", "tender_lumiere", "Web-2"] {
        validate_workload_name(good).unwrap();
    }
    for bad in ["", "a.b", "-x", "x-", "a b", "é", &"x".repeat(64)] {
        let err = validate_workload_name(bad).unwrap_err().to_string();
        assert!(err.contains("workload name"), "{err}");
    }
    validate_domain("mesh.local").unwrap();
    validate_domain("a-b.c1.example").unwrap();
    for bad in ["", "Mesh.local", "mesh..local", ".mesh", "a_b.local"] {
        let err = validate_domain(bad).unwrap_err().to_string();
        assert!(err.contains("domain"), "{bad}: {err}");
    }
}

#[test]
fn workload_ids_allow_container_ids() {
    assert!(validate_workload_id("c1").is_ok());
    assert!(validate_workload_id(&"a1b2c3".repeat(10)).is_ok());
    assert!(validate_workload_id("my_ctr.1").is_ok());
    assert!(validate_workload_id("").is_err());
    assert!(validate_workload_id("a/b").is_err());
    assert!(validate_workload_id(&"a".repeat(129)).is_err());
}

#[test]
fn ifnames_follow_the_kernel_rules() {
    assert!(validate_ifname("ifname", "eth0").is_ok());
    assert!(validate_ifname("ifname", &"e".repeat(15)).is_ok());
    assert!(validate_ifname("ifname", &"e".repeat(16)).is_err());
    assert!(validate_ifname("ifname", "a/b").is_err());
    assert!(validate_ifname("ifname", "a b").is_err());
    assert!(validate_ifname("ifname", "..").is_err());
    assert!(validate_ifname("ifname", "").is_err());
}

#[test]
fn checked_names_hold_only_what_passes() {
    assert_eq!(NetworkName::new("blue").unwrap().as_str(), "blue");
    assert!(NetworkName::new("Blue").is_err());
    assert_eq!(WorkloadName::new("Web_1").unwrap().to_string(), "Web_1");
    assert!(WorkloadName::new("a.b").is_err());
    assert!(WorkloadId::new("a/b").is_err());
    assert_eq!(
        Domain::new("mesh.local").unwrap().into_string(),
        "mesh.local"
    );
    let err = Ifname::new(&"e".repeat(16)).unwrap_err().to_string();
    assert!(err.starts_with("invalid ifname"), "{err}");
}
