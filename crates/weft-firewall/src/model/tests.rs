use super::*;

fn net(name: &str, subnet: &str, interfaces: &[IfMatch]) -> NetworkRules {
    NetworkRules {
        name: name.into(),
        subnets: vec![subnet.parse().unwrap()],
        interfaces: interfaces.to_vec(),
        internal: false,
        bridge_ports: None,
        host_services: None,
    }
}

fn exact(s: &str) -> IfMatch {
    IfMatch::Exact(s.into())
}

fn prefix(s: &str) -> IfMatch {
    IfMatch::Prefix(s.into())
}

#[test]
fn overlaps_follow_nft_wildcards() {
    assert!(exact("wg0").overlaps(&exact("wg0")));
    assert!(!exact("wg0").overlaps(&exact("wg1")));
    assert!(prefix("w0-").overlaps(&exact("w0-abc")));
    assert!(!prefix("w0-").overlaps(&exact("w1-abc")));
    assert!(prefix("w").overlaps(&prefix("w0-")));
    assert!(!prefix("w0-").overlaps(&prefix("w1-")));
    // "w1-" and "w10-": distinct because of the separator weft puts in.
    assert!(!prefix("w1-").overlaps(&prefix("w10-")));
}

#[test]
fn accepts_two_disjoint_networks() {
    let nets = [
        net("blue", "10.42.0.0/16", &[exact("wg0"), prefix("w0-")]),
        net("red", "10.43.0.0/16", &[exact("wg1"), prefix("w1-")]),
    ];
    validate(&nets).unwrap();
}

#[test]
fn refuses_what_would_make_isolation_ambiguous() {
    let cases: Vec<(Vec<NetworkRules>, &str)> = vec![
        (
            vec![
                net("blue", "10.42.0.0/16", &[exact("wg0"), prefix("w1")]),
                net("red", "10.43.0.0/16", &[exact("wg1"), prefix("w1-")]),
            ],
            "network red: interface \"w1-*\": overlaps interface \"w1*\" of network blue",
        ),
        (
            vec![
                net("blue", "10.42.0.0/16", &[exact("wg0")]),
                net("red", "10.42.5.0/24", &[exact("wg1")]),
            ],
            "network red: subnet 10.42.5.0/24: overlaps subnet 10.42.0.0/16 of network blue",
        ),
        (
            vec![
                net("blue", "10.42.0.0/16", &[exact("wg0")]),
                net("blue", "10.43.0.0/16", &[exact("wg1")]),
            ],
            "network blue: listed twice",
        ),
        (
            vec![net("Blue", "10.42.0.0/16", &[exact("wg0")])],
            "network name \"Blue\": 'B' is not allowed",
        ),
        (
            vec![net("blue", "10.42.0.0/16", &[])],
            "network blue: has no interface",
        ),
        (
            vec![net("blue", "10.42.0.0/16", &[exact("a-very-long-name0")])],
            "longer than 15 characters",
        ),
        (
            vec![net("blue", "10.42.0.0/16", &[prefix("w*")])],
            "'*' is not allowed",
        ),
        (
            vec![net("blue", "10.42.0.0/16", &[exact("wg 0")])],
            "' ' is not allowed",
        ),
        (
            vec![net("blue", "10.42.0.0/16", &[prefix("w0-"), exact("w0-x")])],
            "network blue: interface \"w0-x\": overlaps its interface \"w0-*\"",
        ),
        (
            vec![NetworkRules {
                subnets: vec![
                    "10.42.0.0/16".parse().unwrap(),
                    "fd42::/48".parse().unwrap(),
                    "10.50.0.0/16".parse().unwrap(),
                ],
                ..net("blue", "10.42.0.0/16", &[exact("wg0")])
            }],
            "network blue: subnet 10.50.0.0/16: a network has at most one subnet per \
                 address family",
        ),
    ];
    for (nets, expected) in cases {
        let message = validate(&nets).unwrap_err().to_string();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        assert!(message.starts_with("build nftables ruleset (table inet weft): "));
    }
}
