use super::*;

#[test]
fn keys_must_be_net_and_well_formed() {
    assert_eq!(
        sysctl_path("t", "net/ipv4/conf/eth0.100/proxy_arp").unwrap(),
        PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/proxy_arp")
    );
    for bad in [
        "kernel/hostname",
        "/net/ipv4/ip_forward",
        "net",
        "net/",
        "net/ipv4//ip_forward",
        "net/../kernel/hostname",
        "net.ipv4.ip_forward",
    ] {
        assert!(sysctl_path("t", bad).is_err(), "{bad}");
    }
}
