//! Agents' streams: snapshot, deltas within 2 s, revocation ending the
//! stream and removing the host from its peers'.

use super::*;
use crate::test_plane::{Plane, enroll, plane};
use std::time::Instant;
use weft_proto::control::agent_control_client::AgentControlClient;

const WITHIN: Duration = Duration::from_secs(2);

struct Agent {
    id: HostId,
    client: AgentControlClient<tonic::transport::Channel>,
    stream: tonic::Streaming<pb::DesiredState>,
    /// What the messages so far add up to, as the agent keeps it.
    state: weft_proto::desired::Desired,
}

async fn agent(p: &Plane, name: &str) -> Agent {
    let token = p.token("acme", 1, 60).await;
    let (got, key) = enroll(p, &token, name).await.unwrap();
    let channel = p
        .channel(Some((&got.certificate_pem, &key.serialize_pem())))
        .await
        .unwrap();
    let mut client = AgentControlClient::new(channel);
    let stream = client
        .watch(pb::WatchRequest { revision: 0 })
        .await
        .unwrap()
        .into_inner();
    Agent {
        id: HostId::parse("host", &got.host_id).unwrap(),
        client,
        stream,
        state: Default::default(),
    }
}

async fn next(a: &mut Agent) -> pb::DesiredState {
    let msg = tokio::time::timeout(WITHIN, a.stream.message())
        .await
        .expect("a message within 2 s")
        .unwrap()
        .expect("the stream goes on");
    weft_proto::desired::merge(&mut a.state, &msg, a.id.as_str());
    msg
}

/// The public keys of the host's peers in `network`, as it has them.
fn peers_of(a: &Agent, network: &str) -> Vec<String> {
    let peers = a.state.get(network).map(|n| n.peers.as_slice());
    peers
        .unwrap_or_default()
        .iter()
        .map(|p| p.public_key.clone())
        .collect()
}

fn key(byte: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

async fn report(a: &mut Agent, network: &str, byte: u8) {
    let req = pb::ReportRequest {
        version: "test".into(),
        networks: vec![pb::NetworkReport {
            network: network.into(),
            public_key: key(byte),
            listen_port: 51820,
        }],
        peer_health: vec![],
        ..Default::default()
    };
    a.client.report(req).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_then_deltas_with_peers_and_revocation() {
    let p = plane((100.0, 100)).await;
    let mut a = agent(&p, "a").await;
    let mut b = agent(&p, "b").await;
    let first = next(&mut a).await;
    assert!(first.snapshot && first.networks.is_empty(), "{first:?}");
    next(&mut b).await;

    // A network made through the store: streams wait on its revision.
    let store = &p.running.store;
    let tenant = store.tenant_by_name("acme").await.unwrap().unwrap().id;
    let spec = crate::model::NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap();
    let started = Instant::now();
    store.create_network(&tenant, &spec, 0).await.unwrap();
    let got = next(&mut a).await;
    assert!(!got.snapshot && got.revision > first.revision);
    assert_eq!(got.networks.len(), 1);
    assert_eq!(got.networks[0].block, "10.42.0.0/24");
    assert!(got.networks[0].peers.is_empty(), "no keys reported yet");
    assert_eq!(next(&mut b).await.networks[0].block, "10.42.1.0/24");
    assert!(started.elapsed() < WITHIN);

    // Both report their keys: each gets the other as a peer.
    report(&mut a, "blue", 1).await;
    report(&mut b, "blue", 2).await;
    while peers_of(&a, "blue").is_empty() {
        next(&mut a).await;
    }
    assert_eq!(peers_of(&a, "blue"), [key(2)]);
    while peers_of(&b, "blue").is_empty() {
        next(&mut b).await;
    }
    let peer = &b.state["blue"].peers[0];
    assert_eq!(
        (peer.public_key.as_str(), peer.endpoint.as_str()),
        (key(1).as_str(), "127.0.0.1:51820")
    );
    assert_eq!(peer.allowed_ips, ["10.42.0.0/24"]);
    // A heartbeat with nothing new sends nothing.
    report(&mut a, "blue", 1).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), a.stream.message())
            .await
            .is_err()
    );

    // b is deleted: its stream ends refused, and a loses it as a peer.
    let started = Instant::now();
    store.delete_host(&tenant, &b.id, 0).await.unwrap();
    let got = next(&mut a).await;
    assert!(peers_of(&a, "blue").is_empty(), "{got:?}");
    assert!(got.networks.is_empty(), "only a patch: {got:?}");
    // (After what b was still to read.)
    let end = tokio::time::timeout(WITHIN, async {
        loop {
            if let Err(status) = b.stream.message().await {
                return status;
            }
        }
    });
    assert_eq!(end.await.unwrap().code(), tonic::Code::Unauthenticated);
    assert!(started.elapsed() < WITHIN);
}

#[tokio::test]
async fn bad_reports_are_refused_naming_the_field() {
    let p = plane((100.0, 100)).await;
    let mut a = agent(&p, "a").await;
    let cases = [
        (
            pb::NetworkReport {
                network: "Blue".into(),
                public_key: key(1),
                listen_port: 1,
            },
            "networks.network",
        ),
        (
            pb::NetworkReport {
                network: "blue".into(),
                public_key: "short".into(),
                listen_port: 1,
            },
            "networks.public_key",
        ),
        (
            pb::NetworkReport {
                network: "blue".into(),
                public_key: key(1),
                listen_port: 70000,
            },
            "networks.listen_port",
        ),
    ];
    for (n, field) in cases {
        let req = pb::ReportRequest {
            version: String::new(),
            networks: vec![n],
            peer_health: vec![],
            ..Default::default()
        };
        let status = a.client.report(req).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains(field), "{status:?}");
    }
    let req = pb::ReportRequest {
        version: String::new(),
        networks: vec![],
        peer_health: vec![pb::HealthCount {
            health: "great".into(),
            count: 1,
        }],
        ..Default::default()
    };
    let status = a.client.report(req).await.unwrap_err();
    assert!(
        status.message().contains("peer_health.health"),
        "{status:?}"
    );
    // Counts are kept per state.
    let req = pb::ReportRequest {
        version: "v".into(),
        networks: vec![],
        peer_health: vec![
            pb::HealthCount {
                health: "healthy".into(),
                count: 2,
            },
            pb::HealthCount {
                health: "degraded".into(),
                count: 1,
            },
        ],
        ..Default::default()
    };
    a.client.report(req).await.unwrap();
    let host = p.running.store.host(&a.id).await.unwrap().unwrap();
    assert_eq!(
        host.peer_health,
        [("degraded".to_string(), 1), ("healthy".to_string(), 2)].into()
    );
    // Links: each field checked, naming it; a good list is kept, and a
    // report without links (links_included false) keeps it.
    let good = pb::PeerLink {
        network: "blue".into(),
        public_key: key(2),
        health: "healthy".into(),
        last_handshake: 1_800_000_000,
        rx_bytes: 10,
        tx_bytes: 20,
        endpoint: "192.0.2.2:51820".into(),
    };
    let links = |l: pb::PeerLink| pb::ReportRequest {
        version: "v".into(),
        links: vec![l],
        links_included: true,
        ..Default::default()
    };
    for (bad, field) in [
        (
            pb::PeerLink {
                network: "Not A Name".into(),
                ..good.clone()
            },
            "links.network",
        ),
        (
            pb::PeerLink {
                public_key: "<img src=x>".into(),
                ..good.clone()
            },
            "links.public_key",
        ),
        (
            pb::PeerLink {
                health: "<script>".into(),
                ..good.clone()
            },
            "links.health",
        ),
        (
            pb::PeerLink {
                endpoint: "nowhere".into(),
                ..good.clone()
            },
            "links.endpoint",
        ),
    ] {
        let status = a.client.report(links(bad)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains(field), "{status:?}");
    }
    let many = pb::ReportRequest {
        links: vec![good.clone(); crate::agents::MAX_LINKS + 1],
        ..links(good.clone())
    };
    let status = a.client.report(many).await.unwrap_err();
    assert!(status.message().contains("links: more than"), "{status:?}");
    a.client.report(links(good.clone())).await.unwrap();
    let stored = p
        .running
        .store
        .host(&a.id)
        .await
        .unwrap()
        .unwrap()
        .peer_links;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (
            stored[0].health.as_str(),
            stored[0].endpoint.as_deref(),
            stored[0].last_handshake
        ),
        ("healthy", Some("192.0.2.2:51820"), Some(1_800_000_000))
    );
    let without = pb::ReportRequest {
        version: "v".into(),
        ..Default::default()
    };
    a.client.report(without).await.unwrap();
    let kept = p
        .running
        .store
        .host(&a.id)
        .await
        .unwrap()
        .unwrap()
        .peer_links;
    assert_eq!(kept, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_resuming_from_its_revision_gets_only_what_changed() {
    let p = plane((100.0, 100)).await;
    let mut a = agent(&p, "a").await;
    next(&mut a).await;
    let store = &p.running.store;
    let tenant = store.tenant_by_name("acme").await.unwrap().unwrap().id;
    let spec =
        |n: &str, s: &str| crate::model::NetworkSpec::new(n, s, "", false, "", None).unwrap();
    store
        .create_network(&tenant, &spec("blue", "10.42.0.0/16"), 0)
        .await
        .unwrap();
    let got = next(&mut a).await;
    let revision = got.revision;
    drop(a.stream);

    // Back with the revision it has: nothing to send until something changes.
    let mut resumed = a
        .client
        .watch(pb::WatchRequest { revision })
        .await
        .unwrap()
        .into_inner();
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), resumed.message())
            .await
            .is_err()
    );
    store
        .create_network(&tenant, &spec("red", "10.43.0.0/16"), 0)
        .await
        .unwrap();
    let got = tokio::time::timeout(WITHIN, resumed.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!got.snapshot, "{got:?}");
    assert_eq!(got.networks.len(), 1);
    assert_eq!(got.networks[0].name, "red");
    drop(resumed);

    // An unknown revision, or none: a snapshot.
    for from in [0, got.revision + 100] {
        let mut fresh = a
            .client
            .watch(pb::WatchRequest { revision: from })
            .await
            .unwrap()
            .into_inner();
        let first = tokio::time::timeout(WITHIN, fresh.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(first.snapshot, "from {from}: {first:?}");
        assert_eq!(first.networks.len(), 2);
    }
}

async fn watch_from(
    p: &Plane,
    (cert, key): &(String, String),
    from: u64,
) -> tonic::Streaming<pb::DesiredState> {
    let channel = p.channel(Some((cert, key))).await.unwrap();
    AgentControlClient::new(channel)
        .watch(pb::WatchRequest { revision: from })
        .await
        .unwrap()
        .into_inner()
}

async fn message_of(stream: &mut tonic::Streaming<pb::DesiredState>) -> pb::DesiredState {
    tokio::time::timeout(WITHIN, stream.message())
        .await
        .expect("a message within 2 s")
        .unwrap()
        .expect("the stream goes on")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_resumes_across_a_control_plane_restart() {
    let p = plane((100.0, 100)).await;
    let token = p.token("acme", 2, 60).await;
    let (got_a, key_a) = enroll(&p, &token, "a").await.unwrap();
    let (got_b, _) = enroll(&p, &token, "b").await.unwrap();
    let identity = (got_a.certificate_pem.clone(), key_a.serialize_pem());
    let store = p.running.store.clone();
    let tenant = store.tenant_by_name("acme").await.unwrap().unwrap().id;
    let spec =
        |n: &str, s: &str| crate::model::NetworkSpec::new(n, s, "", false, "", None).unwrap();
    for (n, subnet) in [("blue", "10.42.0.0/16"), ("red", "10.43.0.0/16")] {
        store
            .create_network(&tenant, &spec(n, subnet), 0)
            .await
            .unwrap();
    }
    let mut stream = watch_from(&p, &identity, 0).await;
    let mut state = weft_proto::desired::Desired::new();
    let mut revision = 0;
    while state.len() < 2 {
        let msg = message_of(&mut stream).await;
        weft_proto::desired::merge(&mut state, &msg, &got_a.host_id);
        revision = msg.revision;
    }
    drop(stream);

    let p = p.restart().await;
    // Meanwhile a left red; blue did not change.
    let b = HostId::parse("host", &got_b.host_id).unwrap();
    let store = p.running.store.clone();
    store
        .set_network_hosts(&tenant, "red", Some(std::slice::from_ref(&b)))
        .await
        .unwrap();
    let mut stream = watch_from(&p, &identity, revision).await;
    let msg = message_of(&mut stream).await;
    assert!(!msg.snapshot, "{msg:?}");
    assert!(msg.networks.is_empty(), "{msg:?}");
    assert_eq!(msg.removed, ["red"]);
    weft_proto::desired::merge(&mut state, &msg, &got_a.host_id);
    assert_eq!(state.keys().collect::<Vec<_>>(), ["blue"]);
    drop(stream);
    // A revision the store cannot know (newer than its own): a snapshot.
    let mut stream = watch_from(&p, &identity, msg.revision + 1000).await;
    let first = message_of(&mut stream).await;
    assert!(first.snapshot, "{first:?}");
    assert_eq!(first.networks.len(), 1);
}

#[tokio::test]
async fn agents_are_told_the_replicas_on_enrollment_and_in_every_report_answer() {
    let p = plane((100.0, 100)).await;
    let token = p.token("acme", 1, 60).await;
    let (got, key) = enroll(&p, &token, "a").await.unwrap();
    // Alone, on a loopback port: this one, where it listens.
    assert_eq!(got.replicas, [p.running.grpc_addr.to_string()]);
    let channel = p
        .channel(Some((&got.certificate_pem, &key.serialize_pem())))
        .await
        .unwrap();
    let mut client = AgentControlClient::new(channel);
    let replicas = vec![
        "cp1.example:50051".to_string(),
        "[2001:db8::2]:50051".into(),
    ];
    p.running.replicas.send_replace(replicas.clone());
    let answer = client
        .report(pb::ReportRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.replicas, replicas);
}

#[test]
fn the_advertised_default_is_where_agents_reach_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::test_plane::config(&dir, (1.0, 1));
    let any: std::net::SocketAddr = "0.0.0.0:50051".parse().unwrap();
    let one: std::net::SocketAddr = "192.0.2.1:50051".parse().unwrap();
    config.server_names = vec!["cp.example".into(), "192.0.2.1".into()];
    assert_eq!(crate::serve::advertised(&config, one), ["192.0.2.1:50051"]);
    assert_eq!(crate::serve::advertised(&config, any), ["cp.example:50051"]);
    config.server_names = vec!["2001:db8::1".into()];
    assert_eq!(
        crate::serve::advertised(&config, any),
        ["[2001:db8::1]:50051"]
    );
    config.advertise = vec!["a:1".into(), "b:1".into()];
    assert_eq!(crate::serve::advertised(&config, one), ["a:1", "b:1"]);
}
