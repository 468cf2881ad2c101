use crate::observed::{NetworkState, Observed};
use crate::validate::ValidMesh;

const FILE: &str = "
name: l2
networks:
  - name: blue
    subnet: 10.42.0.0/16
  - name: red
    mode: vxlan
    vni: 100
    subnet: 10.50.0.0/16
  - name: sec
    mode: vxlan
    vni: 300
    over: blue
    subnet: 10.60.0.0/16
hosts:
  - name: a
    ssh: root@192.0.2.1
  - name: b
    ssh: root@192.0.2.2
  - name: c
    ssh: root@192.0.2.3
";

#[test]
fn every_host_is_a_vtep_of_every_other_on_the_underlay_or_over_wireguard() {
    let mesh = ValidMesh::parse(FILE).unwrap();
    let plan = crate::plan(&mesh, &Observed::default()).unwrap();
    let a = plan.host("a").unwrap();
    let red = a.network("red").unwrap();
    assert_eq!(red.vxlan.as_ref().unwrap().vni, 100);
    assert_eq!((red.listen_port, red.public_key), (0, None));
    assert!(red.peers.is_empty());
    let vteps: Vec<(String, String, String)> = red
        .vteps
        .iter()
        .map(|v| (v.host.clone(), v.address.to_string(), v.block.to_string()))
        .collect();
    assert_eq!(
        vteps,
        [
            ("b".into(), "192.0.2.2".into(), "10.50.1.0/24".into()),
            ("c".into(), "192.0.2.3".into(), "10.50.2.0/24".into())
        ]
    );
    // Over blue: the hosts' addresses on blue.
    let sec = plan.host("c").unwrap().network("sec").unwrap();
    let addresses: Vec<String> = sec.vteps.iter().map(|v| v.address.to_string()).collect();
    assert_eq!(addresses, ["10.42.0.1", "10.42.1.1"]);
    // VXLAN networks take no WireGuard port and need no key: blue keeps
    // the host's first port, and only blue waits for keys.
    assert_eq!(a.network("blue").unwrap().listen_port, 51820);
    assert!(plan.needs_keys.iter().all(|k| k.network == "blue"));
}

#[test]
fn a_network_with_another_vni_or_carrier_is_made_anew() {
    let mesh = ValidMesh::parse(FILE).unwrap();
    let plan = crate::plan(&mesh, &Observed::default()).unwrap();
    let want = plan.host("a").unwrap().network("red").unwrap().clone();
    let vx = want.vxlan.clone().unwrap();
    let mut have = NetworkState {
        subnet: want.subnet,
        block: want.block,
        listen_port: 0,
        mode: "vxlan".into(),
        public_key: None,
        vni: Some(100),
        over: None,
        vteps: vec![],
        internal: Some(false),
        peers: vec![],
        attachments: Default::default(),
        dns: None,
    };
    assert!(super::fits(&have, &want, &vx));
    have.vni = Some(101);
    assert!(!super::fits(&have, &want, &vx));
    have.vni = Some(100);
    have.over = Some("blue".into());
    assert!(!super::fits(&have, &want, &vx));
}
