use super::*;
use crate::observed::NetworkState;
use std::collections::BTreeMap;
use weft_model::PublicKey;

fn mesh(text: &str) -> ValidMesh {
    ValidMesh::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn have(subnet: &str, block: &str, port: u16, key: u8) -> NetworkState {
    NetworkState {
        vni: None,
        over: None,
        vteps: vec![],
        subnet: subnet.parse().unwrap(),
        block: block.parse().unwrap(),
        listen_port: port,
        mode: "wireguard".into(),
        public_key: Some(PublicKey([key; 32])),
        internal: None,
        peers: vec![],
        attachments: BTreeMap::new(),
        dns: None,
    }
}

fn observe(entries: &[(&str, &str, NetworkState)]) -> Observed {
    let mut observed = Observed::default();
    for (host, network, state) in entries {
        observed
            .hosts
            .entry(host.to_string())
            .or_default()
            .networks
            .insert(network.to_string(), state.clone());
    }
    observed
}

const TWO: &str = "
name: m
networks: [{name: blue}, {name: red, subnet: 10.43.0.0/16}]
hosts:
  - {name: a, ssh: root@192.0.2.1}
  - {name: b, ssh: root@192.0.2.2}
";

#[test]
fn existing_blocks_ports_and_keys_are_kept() {
    let observed = observe(&[
        ("a", "blue", have("10.42.0.0/16", "10.42.9.0/24", 51821, 1)),
        ("b", "red", have("10.43.0.0/16", "10.43.0.0/24", 51820, 2)),
    ]);
    let plan = plan(&mesh(TWO), &observed).unwrap();
    let a_blue = plan.host("a").unwrap().network("blue").unwrap();
    assert_eq!(a_blue.block.to_string(), "10.42.9.0/24");
    assert_eq!(a_blue.listen_port, 51821);
    assert_eq!(a_blue.public_key, Some(PublicKey([1; 32])));
    // The other network of a takes the port left over.
    assert_eq!(
        plan.host("a").unwrap().network("red").unwrap().listen_port,
        51820
    );
    let b_red = plan.host("b").unwrap().network("red").unwrap();
    assert_eq!(
        (b_red.listen_port, b_red.public_key),
        (51820, Some(PublicKey([2; 32])))
    );
    // b's blue is new: the lowest free block, and no key yet.
    let b_blue = plan.host("b").unwrap().network("blue").unwrap();
    assert_eq!(b_blue.block.to_string(), "10.42.0.0/24");
    assert_eq!(b_blue.listen_port, 51821);
    assert_eq!(plan.needs_keys.len(), 2, "{:?}", plan.needs_keys);
    // b's blue and a's red have no key yet, so neither is anyone's peer.
    assert!(a_blue.peers.is_empty());
    assert!(b_red.peers.is_empty());
}

#[test]
fn what_no_longer_fits_is_replaced() {
    let observed = observe(&[
        // Outside the subnet, a port out of range, a block of the wrong size.
        ("a", "blue", have("10.99.0.0/16", "10.99.0.0/24", 60000, 1)),
        ("b", "blue", have("10.42.0.0/16", "10.42.4.0/25", 51820, 2)),
    ]);
    let plan = plan(&mesh(TWO), &observed).unwrap();
    let a = plan.host("a").unwrap().network("blue").unwrap();
    assert_eq!(
        (a.block.to_string(), a.listen_port, a.public_key),
        ("10.42.0.0/24".into(), 51820, None)
    );
    let b = plan.host("b").unwrap().network("blue").unwrap();
    assert_eq!(
        (b.block.to_string(), b.public_key),
        ("10.42.1.0/24".into(), None)
    );
}

#[test]
fn two_hosts_claiming_one_block_leave_it_to_the_first_in_the_file() {
    let observed = observe(&[
        ("a", "blue", have("10.42.0.0/16", "10.42.5.0/24", 51820, 1)),
        ("b", "blue", have("10.42.0.0/16", "10.42.5.0/24", 51820, 2)),
    ]);
    let plan = plan(&mesh(TWO), &observed).unwrap();
    let block = |h: &str| {
        plan.host(h)
            .unwrap()
            .network("blue")
            .unwrap()
            .block
            .to_string()
    };
    assert_eq!(
        (block("a"), block("b")),
        ("10.42.5.0/24".into(), "10.42.0.0/24".into())
    );
}

#[test]
fn ipv6_networks_and_endpoints() {
    let text = "
name: m
networks: [{name: six, subnet: 'fd00:42::/48'}]
hosts:
  - {name: a, ssh: 'root@[2001:db8::1]'}
  - {name: b, ssh: 'root@[2001:db8::2]'}
";
    let observed = observe(&[
        ("a", "six", have("fd00:42::/48", "fd00:42::/64", 51820, 1)),
        (
            "b",
            "six",
            have("fd00:42::/48", "fd00:42:0:1::/64", 51820, 2),
        ),
    ]);
    let plan = plan(&mesh(text), &observed).unwrap();
    let a = plan.host("a").unwrap().network("six").unwrap();
    assert_eq!(a.address.to_string(), "fd00:42::1");
    assert_eq!(a.peers[0].endpoint, "[2001:db8::2]:51820");
    assert_eq!(a.peers[0].allowed_ips[0].to_string(), "fd00:42:0:1::/64");
}

#[test]
fn a_single_local_host_needs_no_endpoint() {
    let text = "name: m\nnetworks: [{name: blue}]\nhosts: [{name: me, local: true}]\n";
    let plan = plan(&mesh(text), &Observed::default()).unwrap();
    assert_eq!(plan.hosts[0].endpoint, None);
    assert!(plan.hosts[0].networks[0].peers.is_empty());
}
