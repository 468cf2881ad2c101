use super::*;

fn peer() -> PeerPlan {
    PeerPlan {
        host: "b".into(),
        public_key: PublicKey([1; 32]),
        endpoint: "192.0.2.2:1".into(),
        allowed_ips: vec!["10.42.1.0/24".parse().unwrap()],
        keepalive: None,
    }
}

#[test]
fn actions_run_removals_first() {
    let mut changes = Changes::default();
    changes.push(
        "h1",
        vec![
            Action::AddPeer {
                network: "blue".into(),
                peer: peer(),
            },
            Action::RemoveNetwork {
                network: "red".into(),
            },
            Action::StopService {
                service: "web".into(),
            },
        ],
    );
    let phases: Vec<u8> = changes.hosts[0].actions.iter().map(Action::phase).collect();
    assert_eq!(phases, [0, 3, 5]);
    assert_eq!(changes.len(), 3);
    changes.push("h2", vec![]);
    assert_eq!(
        changes.hosts.len(),
        1,
        "hosts with nothing to do are left out"
    );
}
