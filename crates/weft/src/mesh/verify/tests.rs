use super::*;
use serde_json::json;
use weft_mesh::{HostState, NetworkState, Observed};
use weft_model::PublicKey;

const NOW: i64 = 1_000_000;

fn key(n: u8) -> PublicKey {
    PublicKey([n; 32])
}

/// Two ssh hosts on blue, keys known, a container on h2 and a job on h1.
fn plan() -> Plan {
    plan_with("")
}

/// [`plan`]'s mesh with `more` services (YAML list items) after its two.
fn plan_with(more: &str) -> Plan {
    let mesh = weft_mesh::ValidMesh::parse(&format!(
        "name: m\nnetworks: [{{name: blue}}]\n\
         hosts: [{{name: h1, ssh: root@192.0.2.1}}, {{name: h2, ssh: root@192.0.2.2}}]\n\
         services:\n\
         \x20 - {{name: web, host: h2, kind: container, image: localhost/web, networks: [blue]}}\n\
         \x20 - {{name: job, host: h1, kind: process, networks: [blue], command: ['true']}}\n\
         {more}",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let mut observed = Observed::default();
    for (i, host) in ["h1", "h2"].into_iter().enumerate() {
        let mut state = HostState::default();
        state.networks.insert(
            "blue".into(),
            NetworkState {
                subnet: "10.42.0.0/16".parse().unwrap(),
                block: format!("10.42.{i}.0/24").parse().unwrap(),
                listen_port: 51820,
                mode: "wireguard".into(),
                public_key: Some(key(i as u8 + 1)),
                vni: None,
                over: None,
                vteps: vec![],
                internal: Some(false),
                peers: vec![],
                attachments: Default::default(),
                dns: None,
            },
        );
        observed.hosts.insert(host.into(), state);
    }
    let plan = weft_mesh::plan(&mesh, &observed).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.is_complete());
    plan
}

fn peer(of: u8, handshake: i64, probe: &str) -> serde_json::Value {
    json!({"public_key": key(of).to_base64(), "latest_handshake": handshake, "probe": probe, "rx_bytes": 500})
}

fn seen(peers: Vec<serde_json::Value>, services: serde_json::Value) -> HostLook {
    HostLook::Seen {
        status: json!({"networks": [{"name": "blue", "peers": peers}]}),
        services: serde_json::from_value(services).unwrap(),
    }
}

fn running(name: &str) -> serde_json::Value {
    json!({"name": name, "fingerprint": "f", "running": true, "exit": null})
}

#[test]
fn up_when_every_peer_answers_and_every_service_runs() {
    let looks = BTreeMap::from([
        (
            "h1".to_string(),
            seen(vec![peer(2, NOW - 3, "ok")], json!([running("job")])),
        ),
        (
            "h2".to_string(),
            seen(vec![peer(1, NOW - 2, "ok")], json!([running("web")])),
        ),
    ]);
    let verdict = judge(&plan(), &looks, &BTreeSet::new(), NOW);
    assert!(verdict.is_up(), "{:?}", verdict.problems());
    assert_eq!(verdict.counts(), "2/2 peers up, 2/2 services running");
    assert_eq!(verdict.peers[0].handshake_age, Some(3));
}

#[test]
fn every_problem_names_its_host_network_peer_or_service() {
    let started = BTreeSet::from(["web".to_string(), "job".to_string()]);
    let looks = BTreeMap::from([
        (
            "h1".to_string(),
            seen(
                vec![peer(2, 0, "")],
                json!([{"name": "job", "fingerprint": "f", "running": false, "exit": "exited with code 3"}]),
            ),
        ),
        (
            "h2".to_string(),
            seen(
                vec![peer(1, NOW - 40, "failed")],
                json!([{"name": "web", "fingerprint": "f", "running": false, "exit": null, "state": "image missing"}]),
            ),
        ),
    ]);
    let verdict = judge(&plan(), &looks, &started, NOW);
    assert!(!verdict.is_up());
    assert_eq!(
        verdict.problems(),
        [
            "host h1 network blue: peer h2: no handshake (endpoint 192.0.2.2:51820)",
            "host h2 network blue: peer h1: the probe through the tunnel fails (last handshake 40s ago, endpoint 192.0.2.1:51820)",
            "host h2: service web: not running (image missing)",
            "host h1: service job: exited with code 3",
        ]
    );
    assert_eq!(verdict.counts(), "0/2 peers up, 0/2 services running");
}

#[test]
fn ended_services_fail_only_when_this_up_started_them_and_they_failed() {
    let job = |exit: &str| {
        seen(
            vec![peer(2, NOW, "ok")],
            json!([{"name": "job", "fingerprint": "f", "running": false, "exit": exit}]),
        )
    };
    let h2 = || seen(vec![peer(1, NOW, "ok")], json!([running("web")]));
    let started = BTreeSet::from(["job".to_string()]);
    for (exit, started, up) in [
        ("exited with code 0", &started, true),
        ("exited with code 3", &started, false),
        ("exited with code 3", &BTreeSet::new(), true),
    ] {
        let looks = BTreeMap::from([("h1".to_string(), job(exit)), ("h2".to_string(), h2())]);
        assert_eq!(
            judge(&plan(), &looks, started, NOW).is_up(),
            up,
            "{exit} {started:?}"
        );
    }
}

#[test]
fn a_vm_this_up_started_must_be_running_however_it_ended() {
    let plan = plan_with(
        "\x20 - {name: vm1, host: h1, kind: vm, hypervisor: qemu, kernel: /boot/vmlinuz, networks: [blue]}\n",
    );
    let h1 = |vm: serde_json::Value| seen(vec![peer(2, NOW, "ok")], json!([running("job"), vm]));
    let h2 = || seen(vec![peer(1, NOW, "ok")], json!([running("web")]));
    let ended =
        |exit: &str| json!({"name": "vm1", "fingerprint": "f", "running": false, "exit": exit});
    let started = BTreeSet::from(["vm1".to_string()]);
    for (vm, started, up) in [
        (running("vm1"), &started, true),
        (ended("exited with code 0"), &started, false),
        (ended("exited with code 1"), &started, false),
        // Ended before this `up`, which did not start it again: shown so.
        (ended("exited with code 0"), &BTreeSet::new(), true),
    ] {
        let looks = BTreeMap::from([("h1".to_string(), h1(vm.clone())), ("h2".to_string(), h2())]);
        let verdict = judge(&plan, &looks, started, NOW);
        assert_eq!(verdict.is_up(), up, "{vm} {started:?}");
        if !up {
            assert_eq!(
                verdict.problems(),
                [format!(
                    "host h1: service vm1: {}",
                    vm["exit"].as_str().unwrap()
                )]
            );
        }
    }
    // Its TAPs are not peers: only the two hosts' peers count.
    let looks = BTreeMap::from([
        ("h1".to_string(), h1(running("vm1"))),
        ("h2".to_string(), h2()),
    ]);
    let verdict = judge(&plan, &looks, &started, NOW);
    assert_eq!(verdict.counts(), "2/2 peers up, 3/3 services running");
}

#[test]
fn an_unreachable_host_fails_its_peers_and_services() {
    let looks = BTreeMap::from([
        (
            "h1".to_string(),
            seen(vec![peer(2, NOW, "ok")], json!([running("job")])),
        ),
        (
            "h2".to_string(),
            HostLook::Unreachable("ssh: connection refused".into()),
        ),
    ]);
    let verdict = judge(&plan(), &looks, &BTreeSet::new(), NOW);
    let problems = verdict.problems();
    assert_eq!(
        problems[0],
        "host h2: cannot ask its agent: ssh: connection refused"
    );
    assert!(
        problems.contains(&"host h2 network blue: peer h1: its host cannot be asked".to_string())
    );
    assert!(problems.contains(&"host h2: service web: its host cannot be asked".to_string()));
}

#[test]
fn a_vxlan_networks_vteps_are_up_when_their_probe_answers() {
    let mesh = weft_mesh::ValidMesh::parse(
        "name: m\nnetworks: [{name: lan, mode: vxlan, vni: 100, subnet: 10.50.0.0/16}]\n\
         hosts: [{name: h1, ssh: root@192.0.2.1}, {name: h2, ssh: root@192.0.2.2}]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let plan = weft_mesh::plan(&mesh, &Observed::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.is_complete());
    // What `weft status` says of a VTEP: no key, its address, its probe.
    let vtep = |address: &str, probe: &str| json!({"public_key": "", "endpoint": address, "probe": probe, "health": "healthy"});
    let look = |peers: Vec<serde_json::Value>| HostLook::Seen {
        status: json!({"networks": [{"name": "lan", "peers": peers}]}),
        services: vec![],
    };
    let verdict = |h1: Vec<serde_json::Value>, h2: Vec<serde_json::Value>| {
        let looks = BTreeMap::from([("h1".to_string(), look(h1)), ("h2".to_string(), look(h2))]);
        judge(&plan, &looks, &BTreeSet::new(), NOW)
    };
    let up = verdict(vec![vtep("192.0.2.2", "ok")], vec![vtep("192.0.2.1", "ok")]);
    assert!(up.is_up(), "{:?}", up.problems());
    assert_eq!(up.counts(), "2/2 peers up, 0/0 services running");
    let down = verdict(
        vec![vtep("192.0.2.2", "failed")],
        vec![vtep("192.0.2.9", "ok")],
    );
    assert!(!down.is_up());
    assert_eq!(
        down.problems(),
        [
            "host h1 network lan: peer h2: the probe over the segment fails (VTEP 192.0.2.2)",
            "host h2 network lan: peer h1: VTEP 192.0.2.1 is not configured on the host",
        ]
    );
    let pending = verdict(vec![vtep("192.0.2.2", "")], vec![vtep("192.0.2.1", "ok")]);
    assert_eq!(
        pending.problems(),
        [
            "host h1 network lan: peer h2: the probe over the segment has not answered yet (VTEP 192.0.2.2)"
        ]
    );
}
