use super::*;
use crate::observed::{NetworkState, PeerState, ServiceState, VtepState};
use crate::plan::{DnsRecord, ServicePlan};
use crate::schema::{Kind, NetworkType};
use weft_model::PublicKey;

fn peer(key: u8, endpoint: &str) -> PeerPlan {
    PeerPlan {
        host: "h2".into(),
        public_key: PublicKey([key; 32]),
        endpoint: endpoint.into(),
        allowed_ips: vec!["10.42.1.0/24".parse().unwrap()],
        keepalive: Some(25),
    }
}

fn vtep(block: &str) -> VtepPlan {
    VtepPlan {
        host: "h2".into(),
        address: "198.18.0.2".parse().unwrap(),
        block: block.parse().unwrap(),
    }
}

fn service(name: &str) -> Box<ServicePlan> {
    Box::new(ServicePlan {
        name: name.into(),
        host: "h1".into(),
        workload_id: format!("weft.m.{name}"),
        kind: Kind::Process,
        network_type: NetworkType::Mesh,
        ports: vec![],
        command: Some(vec!["sleep".into(), "600".into()]),
        addresses: vec![],
        vm: None,
        container: None,
    })
}

fn records(names: &[&str]) -> Vec<DnsRecord> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| DnsRecord {
            name: format!("{n}.mesh.internal"),
            address: format!("10.42.0.{}", i + 2).parse().unwrap(),
        })
        .collect()
}

fn attach(service: &str) -> Action {
    Action::Attach {
        network: "blue".into(),
        service: service.into(),
        workload_id: format!("weft.m.{service}"),
        address: "10.42.0.2".parse().unwrap(),
    }
}

fn create(network: &str) -> Action {
    Action::CreateNetwork {
        network: network.into(),
        subnet: "10.42.0.0/16".parse().unwrap(),
        block: "10.42.0.0/24".parse().unwrap(),
        listen_port: 51820,
        internal: false,
        vxlan: None,
    }
}

/// h1 before the run: network blue with peer 1, VTEP 198.18.0.2, the
/// records of `a`, `a` attached and running.
fn before() -> HostState {
    let blue = NetworkState {
        subnet: "10.42.0.0/16".parse().unwrap(),
        block: "10.42.0.0/24".parse().unwrap(),
        listen_port: 51820,
        mode: "wireguard".into(),
        public_key: Some(PublicKey([9; 32])),
        vni: None,
        over: None,
        vteps: vec![VtepState {
            address: "198.18.0.2".parse().unwrap(),
            block: Some("10.42.1.0/24".parse().unwrap()),
        }],
        internal: Some(false),
        peers: vec![PeerState {
            public_key: PublicKey([1; 32]),
            endpoint: Some("198.18.0.2:51820".into()),
            allowed_ips: vec!["10.42.1.0/24".parse().unwrap()],
            keepalive: None,
        }],
        attachments: [("weft.m.a".to_string(), "10.42.0.2".parse().unwrap())].into(),
        dns: Some(records(&["a"])),
    };
    HostState {
        networks: [("blue".to_string(), blue)].into(),
        services: [(
            "a".to_string(),
            ServiceState {
                fingerprint: "f".into(),
            },
        )]
        .into(),
    }
}

#[test]
fn the_inverse_removes_what_an_action_made() {
    let blue = || "blue".to_string();
    let cases = [
        (create("blue"), Action::RemoveNetwork { network: blue() }),
        (
            Action::AddPeer {
                network: blue(),
                peer: peer(2, "198.18.0.3:51820"),
            },
            Action::RemovePeer {
                network: blue(),
                public_key: PublicKey([2; 32]),
            },
        ),
        (
            Action::AddVtep {
                network: blue(),
                vtep: vtep("10.42.1.0/24"),
            },
            Action::RemoveVtep {
                network: blue(),
                address: "198.18.0.2".parse().unwrap(),
            },
        ),
        (
            attach("b"),
            Action::Detach {
                network: blue(),
                workload_id: "weft.m.b".into(),
            },
        ),
        (
            Action::StartService {
                service: service("b"),
            },
            Action::StopService {
                service: "b".into(),
            },
        ),
    ];
    for (action, undo) in cases {
        assert_eq!(action.inverse(), Some(undo), "{action}");
    }
}

#[test]
fn removals_stops_and_replacements_have_no_inverse() {
    let blue = || "blue".to_string();
    for action in [
        Action::StopService {
            service: "a".into(),
        },
        Action::Detach {
            network: blue(),
            workload_id: "weft.m.a".into(),
        },
        Action::RemovePeer {
            network: blue(),
            public_key: PublicKey([1; 32]),
        },
        Action::RemoveVtep {
            network: blue(),
            address: "198.18.0.2".parse().unwrap(),
        },
        Action::RemoveNetwork { network: blue() },
        Action::UpdatePeer {
            network: blue(),
            peer: peer(1, "198.18.0.9:51820"),
        },
        Action::SetDns {
            network: blue(),
            records: records(&["a", "b"]),
        },
    ] {
        assert_eq!(action.inverse(), None, "{action}");
    }
}

#[test]
fn on_a_host_that_had_nothing_restoring_removes_what_the_run_made() {
    let empty = HostState::default();
    for action in [
        create("blue"),
        Action::AddPeer {
            network: "blue".into(),
            peer: peer(2, "198.18.0.3:51820"),
        },
        Action::AddVtep {
            network: "blue".into(),
            vtep: vtep("10.42.1.0/24"),
        },
        attach("a"),
        Action::StartService {
            service: service("a"),
        },
    ] {
        assert_eq!(action.restoring(&empty), action.inverse(), "{action}");
    }
    // A network new in this run had no records; an update of a peer the
    // host did not have removes it.
    let dns = Action::SetDns {
        network: "blue".into(),
        records: records(&["a"]),
    };
    assert_eq!(
        dns.restoring(&empty),
        Some(Action::SetDns {
            network: "blue".into(),
            records: vec![],
        })
    );
    let update = Action::UpdatePeer {
        network: "blue".into(),
        peer: peer(2, "198.18.0.3:51820"),
    };
    assert_eq!(
        update.restoring(&empty),
        Some(Action::RemovePeer {
            network: "blue".into(),
            public_key: PublicKey([2; 32]),
        })
    );
}

#[test]
fn restoring_puts_back_what_the_run_replaced() {
    let before = before();
    let blue = || "blue".to_string();
    // Peer 1 moved: it gets its old endpoint, allowed-ips and keepalive.
    let update = Action::UpdatePeer {
        network: blue(),
        peer: peer(1, "198.18.0.9:51820"),
    };
    assert_eq!(
        update.restoring(&before),
        Some(Action::UpdatePeer {
            network: blue(),
            peer: PeerPlan {
                endpoint: "198.18.0.2:51820".into(),
                keepalive: None,
                ..peer(1, "")
            },
        })
    );
    let dns = Action::SetDns {
        network: blue(),
        records: records(&["a", "b"]),
    };
    assert_eq!(
        dns.restoring(&before),
        Some(Action::SetDns {
            network: blue(),
            records: records(&["a"]),
        })
    );
    let moved = Action::AddVtep {
        network: blue(),
        vtep: vtep("10.42.7.0/24"),
    };
    assert_eq!(
        moved.restoring(&before),
        Some(Action::AddVtep {
            network: blue(),
            vtep: vtep("10.42.1.0/24"),
        })
    );
    // New next to what was there: removed.
    assert_eq!(
        create("red").restoring(&before),
        Some(Action::RemoveNetwork {
            network: "red".into()
        })
    );
    assert_eq!(attach("b").restoring(&before), attach("b").inverse());
    let start_b = Action::StartService {
        service: service("b"),
    };
    assert_eq!(start_b.restoring(&before), start_b.inverse());
}

#[test]
fn what_was_made_again_in_place_of_what_was_there_stays() {
    let before = before();
    // A network re-created, an attachment made again, a service restarted
    // with a new definition: removing them would not bring the old back.
    for action in [
        create("blue"),
        attach("a"),
        Action::StartService {
            service: service("a"),
        },
    ] {
        assert_eq!(action.restoring(&before), None, "{action}");
    }
    // What the host did not say cannot be put back.
    let mut unsaid = before.clone();
    let blue = unsaid.networks.get_mut("blue").unwrap();
    blue.dns = None;
    blue.peers[0].endpoint = None;
    blue.vteps[0].block = None;
    for action in [
        Action::SetDns {
            network: "blue".into(),
            records: records(&["a", "b"]),
        },
        Action::UpdatePeer {
            network: "blue".into(),
            peer: peer(1, "198.18.0.9:51820"),
        },
        Action::AddVtep {
            network: "blue".into(),
            vtep: vtep("10.42.7.0/24"),
        },
    ] {
        assert_eq!(action.restoring(&unsaid), None, "{action}");
    }
}

/// A peer replaced under a new key (a rotation) is taken back by the old
/// key's peer, as it was, replacing the new one in turn; with the old one
/// not there before, there is nothing to put back.
#[test]
fn a_replaced_peer_is_restored_by_the_reverse_replacement() {
    let replaced = Action::ReplacePeer {
        network: "blue".into(),
        old: PublicKey([1; 32]),
        peer: peer(2, "198.18.0.2:51820"),
    };
    assert_eq!(replaced.inverse(), None);
    let restoring = replaced
        .restoring(&before())
        .expect("the old peer was there");
    let Action::ReplacePeer { network, old, peer } = restoring else {
        panic!("not a replacement: {restoring}");
    };
    assert_eq!(network, "blue");
    assert_eq!(old, PublicKey([2; 32]));
    assert_eq!(peer.public_key, PublicKey([1; 32]));
    assert_eq!(peer.endpoint, "198.18.0.2:51820");
    assert_eq!(peer.keepalive, None, "as it was, not as planned");
    assert_eq!(replaced.restoring(&HostState::default()), None);
}
