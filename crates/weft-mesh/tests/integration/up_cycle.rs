//! plan → diff → apply against fake agents: first `up`, the second `up`
//! that changes nothing, edits that change only their difference, stable
//! assignments when hosts and services are added, and `down`.

use crate::common;

use common::{Cluster, mesh};
use ipnet::IpNet;
use weft_mesh::{Action, HostNetworkPlan, Plan, Role};

const THREE: &str = "
name: demo
networks:
  - {name: blue}
  - {name: red, subnet: 10.43.0.0/16, internal: true}
hosts:
  - {name: h1, ssh: root@192.0.2.1}
  - {name: h2, ssh: root@192.0.2.2}
  - {name: h3, ssh: root@192.0.2.3, listen_port: 52000}
services:
  - {name: web, host: h1, kind: process, networks: [blue], ports: [8000], command: [python3, -m, http.server]}
  - {name: db, host: h2, kind: container, networks: [blue, red]}
  - {name: api, host: h3, kind: process, network: host, networks: [red], ports: [9000], command: [api]}
";

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn hn<'a>(plan: &'a Plan, host: &str, network: &str) -> &'a HostNetworkPlan {
    plan.host(host).unwrap().network(network).unwrap()
}

#[test]
fn first_up_needs_two_rounds_and_the_second_up_changes_nothing() {
    let mesh = mesh(THREE);
    let mut cluster = Cluster::default();
    let up = cluster.up(&mesh);
    assert_eq!(up.rounds.len(), 2, "create (keys made), then peers");
    assert_eq!(up.rounds[0].waiting_for_keys.len(), 6);
    assert!(up.rounds[1].waiting_for_keys.is_empty());
    // Round one: networks, DNS, attachments, services; no peer (no key yet).
    let first = &up.rounds[0];
    assert_eq!(
        first
            .host("h1")
            .unwrap()
            .actions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "create network blue (10.42.0.0/16, block 10.42.0.0/24, port 51820)",
            "create network red (10.43.0.0/16, block 10.43.0.0/24, port 51821, internal)",
            "set 5 DNS records on blue",
            "set 5 DNS records on red",
            "attach web to blue at 10.42.0.2",
            "start process web",
        ]
    );
    // Round two: peers only.
    for host in &up.rounds[1].hosts {
        assert!(
            host.actions
                .iter()
                .all(|a| matches!(a, Action::AddPeer { .. })),
            "{host:?}"
        );
        assert_eq!(host.actions.len(), 4, "2 peers × 2 networks");
    }
    let plan = &up.plan;
    assert_eq!(hn(plan, "h3", "blue").listen_port, 52000);
    assert_eq!(hn(plan, "h3", "red").block, net("10.43.2.0/24"));
    let peers = &hn(plan, "h1", "blue").peers;
    assert_eq!(peers[1].host, "h3");
    assert_eq!(peers[1].endpoint, "192.0.2.3:52000");
    assert_eq!(peers[1].allowed_ips, [net("10.42.2.0/24")]);
    let db = plan.service("db").unwrap();
    assert_eq!(db.addresses[0].address.to_string(), "10.42.1.2");
    assert_eq!(db.addresses[1].address.to_string(), "10.43.1.2");
    let api = plan.service("api").unwrap();
    assert_eq!(api.addresses[0].address, hn(plan, "h3", "red").address);

    let again = cluster.up(&mesh);
    assert!(again.rounds.is_empty());
    let changes = weft_mesh::diff(&again.plan, &cluster.observed, cluster.previous.as_ref());
    assert_eq!(changes.to_string(), "no changes\n");
}

/// The check: a 4th host added to the file leaves the others'
/// keys and addresses unchanged — even when it is added first.
#[test]
fn a_fourth_host_changes_nothing_for_the_others() {
    let mut cluster = Cluster::default();
    let before = cluster.up(&mesh(THREE)).plan;
    let four = THREE.replace("hosts:\n", "hosts:\n  - {name: h0, ssh: root@192.0.2.10}\n");
    let four = four.replace(
        "services:\n",
        "services:\n  - {name: new, host: h2, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue]}\n",
    );
    let up = cluster.up(&mesh(&four));
    let after = &up.plan;
    for host in ["h1", "h2", "h3"] {
        for network in ["blue", "red"] {
            let (b, a) = (hn(&before, host, network), hn(after, host, network));
            assert_eq!(
                (b.block, b.address, b.listen_port, b.public_key),
                (a.block, a.address, a.listen_port, a.public_key),
                "{host}/{network}"
            );
        }
        // The only change on an old host: the new host as a peer.
        for (_, action) in up.all_actions().iter().filter(|(h, _)| h == host) {
            match action {
                Action::AddPeer { peer, .. } => assert_eq!(peer.host, "h0"),
                // Every host's DNS learns the new names.
                Action::SetDns { records, .. } => {
                    assert!(records.iter().any(|r| r.name == "h0.mesh.local"))
                }
                Action::Attach { service, .. } if service == "new" => {}
                Action::StartService { service } if service.name == "new" => {}
                other => panic!("{host}: unexpected {other}"),
            }
        }
    }
    for host in ["h1", "h2", "h3"] {
        let added = up
            .all_actions()
            .into_iter()
            .filter(|(h, a)| h == host && matches!(a, Action::AddPeer { .. }))
            .count();
        assert_eq!(added, 2, "{host}: h0 on blue and red");
    }
    for svc in &before.services {
        assert_eq!(after.service(&svc.name).unwrap().addresses, svc.addresses);
    }
    // The newcomers get what is free.
    assert_eq!(hn(after, "h0", "blue").block, net("10.42.3.0/24"));
    assert_eq!(
        after.service("new").unwrap().addresses[0]
            .address
            .to_string(),
        "10.42.1.3"
    );
    assert!(cluster.up(&mesh(&four)).rounds.is_empty());
}

#[test]
fn hub_and_spoke_routes_spokes_through_the_hub() {
    let text = "
name: hubby
networks: [{name: blue, hub: h2}]
hosts:
  - {name: h1, lab: true}
  - {name: h2, lab: true}
  - {name: h3, lab: true}
";
    let mut cluster = Cluster::default();
    cluster.observed.lab_underlay = [
        ("h1", "192.0.2.2"),
        ("h2", "192.0.2.3"),
        ("h3", "192.0.2.4"),
    ]
    .into_iter()
    .map(|(h, ip)| (h.to_owned(), ip.parse().unwrap()))
    .collect();
    let plan = cluster.up(&mesh(text)).plan;
    let hub = hn(&plan, "h2", "blue");
    assert_eq!(hub.role, Role::Hub);
    assert_eq!(
        hub.peers
            .iter()
            .map(|p| (p.host.as_str(), p.allowed_ips.clone(), p.keepalive))
            .collect::<Vec<_>>(),
        [
            ("h1", vec![net("10.42.0.0/24")], None),
            ("h3", vec![net("10.42.2.0/24")], None)
        ]
    );
    let spoke = hn(&plan, "h3", "blue");
    assert_eq!(spoke.role, Role::Spoke);
    assert_eq!(spoke.peers.len(), 1);
    let to_hub = &spoke.peers[0];
    assert_eq!(
        (
            to_hub.host.as_str(),
            to_hub.endpoint.as_str(),
            to_hub.keepalive
        ),
        ("h2", "192.0.2.3:51820", Some(25))
    );
    // Everything of the subnet but its own block: h1's and the hub's blocks
    // and any spoke's to come.
    let allowed = &to_hub.allowed_ips;
    assert!(!allowed.iter().any(|n| n.contains(&spoke.address)));
    for other in ["10.42.0.1", "10.42.1.1", "10.42.200.9"] {
        let ip: std::net::IpAddr = other.parse().unwrap();
        assert!(allowed.iter().any(|n| n.contains(&ip)), "{other}");
    }
    assert_eq!(allowed.len(), 8);

    // A fourth host: only the hub learns of it.
    cluster
        .observed
        .lab_underlay
        .insert("h4".into(), "192.0.2.5".parse().unwrap());
    let text4 = format!("{text}  - {{name: h4, lab: true}}\n");
    let up = cluster.up(&mesh(&text4));
    for spoke in ["h1", "h3"] {
        assert_eq!(
            up.actions_of(spoke),
            ["set 4 DNS records on blue"],
            "{spoke}"
        );
    }
    assert_eq!(
        up.actions_of("h2"),
        [
            "set 4 DNS records on blue",
            "add peer h4 on blue (endpoint 192.0.2.5:51820, allowed-ips 10.42.3.0/24)"
        ]
    );
}

#[test]
fn edits_apply_only_their_difference() {
    let mut cluster = Cluster::default();
    cluster.up(&mesh(THREE));

    // A new command: the service restarts in a new namespace, same address.
    let edited = THREE.replace(
        "command: [python3, -m, http.server]",
        "command: [python3, -m, http.server, '8001']",
    );
    let up = cluster.up(&mesh(&edited));
    assert_eq!(
        up.actions_of("h1"),
        [
            "stop service web",
            "detach weft.demo.web from blue",
            "attach web to blue at 10.42.0.2",
            "start process web"
        ]
    );
    assert!(up.actions_of("h2").is_empty() && up.actions_of("h3").is_empty());

    // A running service joins one more network: attached live, not restarted.
    let edited2 = edited.replace(
        "networks: [blue], ports: [8000]",
        "networks: [blue, red], ports: [8000]",
    );
    let up = cluster.up(&mesh(&edited2));
    assert_eq!(
        up.actions_of("h1"),
        ["set 6 DNS records on red", "attach web to red at 10.43.0.2"]
    );
    // DNS on every host learns web's red address.
    for host in ["h2", "h3"] {
        assert_eq!(up.actions_of(host), ["set 6 DNS records on red"], "{host}");
    }

    // The service moves to h3: stopped and detached on h1, started on h3.
    let moved = edited2.replace("{name: web, host: h1", "{name: web, host: h3");
    let up = cluster.up(&mesh(&moved));
    assert_eq!(
        up.actions_of("h1")[..3],
        [
            "stop service web",
            "detach weft.demo.web from blue",
            "detach weft.demo.web from red"
        ]
    );
    assert!(
        up.actions_of("h3")
            .contains(&"start process web".to_string())
    );
}

#[test]
fn a_changed_subnet_recreates_the_network_and_rekeys_its_peers() {
    let mut cluster = Cluster::default();
    let before = cluster.up(&mesh(THREE)).plan;
    let edited = THREE.replace("subnet: 10.43.0.0/16", "subnet: 10.44.0.0/16");
    let up = cluster.up(&mesh(&edited));
    let after = &up.plan;
    assert_eq!(up.rounds.len(), 2);
    let h1 = up.actions_of("h1");
    assert_eq!(h1[0], "remove network red");
    assert!(h1[1].starts_with("create network red (10.44.0.0/16, block 10.44.0.0/24"));
    assert_ne!(
        hn(&before, "h1", "red").public_key,
        hn(after, "h1", "red").public_key
    );
    // Blue is untouched.
    assert_eq!(hn(&before, "h1", "blue"), hn(after, "h1", "blue"));
    // db was attached to red: it is attached again, not restarted.
    assert!(
        up.actions_of("h2")
            .contains(&"attach db to red at 10.44.1.2".to_string())
    );
    assert!(!up.actions_of("h2").iter().any(|a| a.contains("start")));
}

#[test]
fn a_network_dropped_from_the_file_is_removed_using_the_previous_plan() {
    let mut cluster = Cluster::default();
    cluster.up(&mesh(THREE));
    let edited = THREE
        .replace(
            "  - {name: red, subnet: 10.43.0.0/16, internal: true}\n",
            "",
        )
        .replace("networks: [blue, red]", "networks: [blue]")
        .replace("networks: [red]", "networks: [blue]");
    let desired = weft_mesh::plan(&mesh(&edited), &cluster.observed).unwrap();
    let without = weft_mesh::diff(&desired, &cluster.observed, None);
    assert!(!without.to_string().contains("remove network red"));
    let up = cluster.up(&mesh(&edited));
    for host in ["h1", "h2", "h3"] {
        assert!(
            up.actions_of(host)
                .contains(&"remove network red".to_string()),
            "{host}"
        );
    }
}

#[test]
fn what_the_mesh_did_not_make_is_left_alone() {
    let mut cluster = Cluster::default();
    cluster.up(&mesh(THREE));
    // A container attached by the CNI plugin to blue on h1 at .3, and a
    // network of someone else's.
    let h1 = cluster.observed.hosts.get_mut("h1").unwrap();
    let blue = h1.networks.get_mut("blue").unwrap();
    blue.attachments
        .insert("c0ffee".into(), "10.42.0.3".parse().unwrap());
    let mut other = blue.clone();
    other.attachments.clear();
    h1.networks.insert("theirs".into(), other);
    let more = THREE.replace(
        "services:\n",
        "services:\n  - {name: extra, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue]}\n",
    );
    let up = cluster.up(&mesh(&more));
    assert_eq!(
        up.actions_of("h1"),
        [
            "set 6 DNS records on blue",
            "attach extra to blue at 10.42.0.4",
            "start vm extra"
        ]
    );
    let down = cluster.down(&mesh(&more));
    assert!(!down.to_string().contains("theirs"));
    let h1 = &cluster.observed.hosts["h1"];
    assert_eq!(h1.networks.keys().collect::<Vec<_>>(), ["theirs"]);
}

#[test]
fn down_removes_everything_up_made() {
    let mut cluster = Cluster::default();
    let mesh = mesh(THREE);
    cluster.up(&mesh);
    let down = cluster.down(&mesh);
    assert_eq!(
        down.host("h2")
            .unwrap()
            .actions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "stop service db",
            "remove network blue",
            "remove network red"
        ]
    );
    for (host, state) in &cluster.observed.hosts {
        assert!(
            state.networks.is_empty() && state.services.is_empty(),
            "{host}"
        );
    }
    let again = weft_mesh::teardown(
        &weft_mesh::plan(&mesh, &cluster.observed).unwrap(),
        &cluster.observed,
        None,
    );
    assert!(again.is_empty());
}

#[test]
fn plans_are_deterministic_and_survive_json() {
    let mut cluster = Cluster::default();
    let plan = cluster.up(&mesh(THREE)).plan;
    let again = weft_mesh::plan(&mesh(THREE), &cluster.observed).unwrap();
    assert_eq!(plan, again);
    let json = serde_json::to_string(&plan).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
    let observed: weft_mesh::Observed =
        serde_json::from_str(&serde_json::to_string(&cluster.observed).unwrap()).unwrap();
    assert_eq!(observed, cluster.observed);
}

#[test]
fn a_peer_changed_behind_the_mesh_is_put_back() {
    let mut cluster = Cluster::default();
    cluster.up(&mesh(THREE));
    let blue = cluster
        .observed
        .hosts
        .get_mut("h1")
        .unwrap()
        .networks
        .get_mut("blue")
        .unwrap();
    blue.peers[0].allowed_ips.push(net("10.99.0.0/16"));
    let mut stranger = blue.peers[1].clone();
    stranger.public_key = weft_model::PublicKey([0xee; 32]);
    blue.peers.push(stranger);
    let up = cluster.up(&mesh(THREE));
    let actions = up.actions_of("h1");
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(actions[0].starts_with("remove peer 7u7u"), "{actions:?}");
    assert!(
        actions[1].starts_with("update peer h2 on blue"),
        "{actions:?}"
    );
}

const SEGMENTS: &str = "
name: l2
networks:
  - {name: blue}
  - {name: lan, mode: vxlan, vni: 100, subnet: 10.50.0.0/16}
  - {name: sec, mode: vxlan, vni: 300, over: blue, subnet: 10.60.0.0/16}
hosts:
  - {name: h1, ssh: root@192.0.2.1}
  - {name: h2, ssh: root@192.0.2.2}
  - {name: h3, ssh: root@192.0.2.3}
services:
  - {name: db, host: h2, kind: container, networks: [lan]}
";

#[test]
fn vxlan_networks_get_every_other_host_as_a_vtep_and_a_second_up_changes_nothing() {
    let mesh = mesh(SEGMENTS);
    let mut cluster = Cluster::default();
    let up = cluster.up(&mesh);
    // VXLAN networks wait for no key: their VTEPs come in the first round.
    let first: Vec<String> = up.rounds[0]
        .host("h1")
        .unwrap()
        .actions
        .iter()
        .map(ToString::to_string)
        .collect();
    for want in [
        "create network blue (10.42.0.0/16, block 10.42.0.0/24, port 51820)",
        "create network lan (vxlan, vni 100, 10.50.0.0/16, block 10.50.0.0/24)",
        "create network sec (vxlan, vni 300 over blue, 10.60.0.0/16, block 10.60.0.0/24)",
        "add VTEP 192.0.2.2 (h2, 10.50.1.0/24) to lan",
        "add VTEP 192.0.2.3 (h3, 10.50.2.0/24) to lan",
        "add VTEP 10.42.1.1 (h2, 10.60.1.0/24) to sec",
        "add VTEP 10.42.2.1 (h3, 10.60.2.0/24) to sec",
    ] {
        assert!(
            first.contains(&want.to_string()),
            "{want:?} not in {first:#?}"
        );
    }
    // The carrier is made before what runs over it.
    let position = |what: &str| first.iter().position(|a| a.starts_with(what)).unwrap();
    assert!(position("create network blue") < position("create network sec"));
    assert_eq!(up.rounds[0].waiting_for_keys.len(), 3, "blue's keys only");
    let db = up.plan.service("db").unwrap();
    assert_eq!(db.addresses[0].address.to_string(), "10.50.1.2");

    let again = cluster.up(&mesh);
    assert!(again.rounds.is_empty(), "{:?}", again.rounds);

    // A host leaves the file: the others drop its peer and VTEPs, and its
    // name.
    let two = mesh_without(SEGMENTS, "  - {name: h3, ssh: root@192.0.2.3}\n");
    let after = cluster.up(&two);
    let h1: Vec<String> = after.rounds[0]
        .host("h1")
        .unwrap()
        .actions
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        h1,
        [
            format!(
                "remove peer {} from blue",
                hn(&up.plan, "h3", "blue").public_key.unwrap()
            ),
            "remove VTEP 192.0.2.3 from lan".to_string(),
            "remove VTEP 10.42.2.1 from sec".to_string(),
            "set 2 DNS records on blue".to_string(),
            "set 3 DNS records on lan".to_string(),
            "set 2 DNS records on sec".to_string(),
        ]
    );
}

fn mesh_without(text: &str, line: &str) -> weft_mesh::ValidMesh {
    assert!(text.contains(line));
    mesh(&text.replace(line, ""))
}
