//! The host is never taken for a workload, and a network never takes the
//! host's own addresses or routes.

use super::*;
use crate::dataplane::HostPrefix;
use crate::fake::HOST_NETNS;
use weft_proto::ErrorKind;

#[test]
fn the_hosts_namespace_is_refused_whatever_its_path() {
    let dp = FakeDataplane::default()
        .with_netns("/proc/self/ns/net", HOST_NETNS)
        .with_netns("/run/netns/looks-like-a-container", HOST_NETNS)
        .with_netns("/run/netns/c1", netns_id(101));
    let mut a = Agent::new(Store::in_memory().unwrap(), dp);
    a.add_network_pb(blue()).unwrap();
    let before = snapshot(&a);
    for path in ["/proc/self/ns/net", "/run/netns/looks-like-a-container"] {
        let err = a
            .attach_pb(pb::AttachRequest {
                netns: path.into(),
                ..attach_req("blue", "c1")
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidNetns, "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "invalid netns {path:?}: it is the host's own network namespace, not a workload's"
            )
        );
        assert_eq!(snapshot(&a), before, "{path} changed something");
    }
    a.attach_pb(attach_req("blue", "c1")).unwrap();
}

fn on(prefix: &str, ifname: &str) -> HostPrefix {
    HostPrefix {
        prefix: prefix.parse().unwrap(),
        ifname: ifname.into(),
    }
}

#[test]
fn a_subnet_over_the_hosts_addresses_or_routes_is_refused() {
    let mut a = agent();
    a.dataplane().lock().host_prefixes = vec![
        on("127.0.0.0/8", "lo"),
        on("192.168.1.0/24", "eth0"),
        on("10.200.0.0/16", "docker0"),
    ];
    let before = snapshot(&a);
    for (subnet, block, want) in [
        (
            "192.168.0.0/16",
            "192.168.7.0/24",
            "overlaps 192.168.1.0/24 on eth0",
        ),
        (
            "192.168.1.0/24",
            "192.168.1.0/24",
            "overlaps 192.168.1.0/24 on eth0",
        ),
        (
            "10.200.3.0/24",
            "10.200.3.0/24",
            "overlaps 10.200.0.0/16 on docker0",
        ),
    ] {
        let err = a
            .add_network_pb(pb::AddNetworkRequest {
                subnet: subnet.into(),
                block: block.into(),
                ..blue()
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        assert_eq!(
            err.to_string(),
            format!("invalid subnet \"{subnet}\": {want}")
        );
        assert_eq!(snapshot(&a), before, "{subnet} changed something");
        assert!(a.dataplane().lock().firewall.is_empty());
    }
    // Beside them, it is fine.
    a.add_network_pb(blue()).unwrap();
}
