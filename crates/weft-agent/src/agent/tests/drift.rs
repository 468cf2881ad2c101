//! The continuous reconcile against a data plane that someone changed
//! behind the agent's back: each drift repaired, logged and counted; no
//! drift, no writes.

use super::*;
use crate::dataplane::{Dataplane, HostView, NetworkPlan};
use crate::drift::{Drift, network_drift};
use std::time::{Duration, SystemTime};
use weft_wg::PeerConfig;

/// An agent with network blue (one peer, one workload) and a bridge
/// network with one workload; returns it with the peer's key.
fn settled() -> (Agent<FakeDataplane>, weft_model::PublicKey) {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(bridge_net()).unwrap();
    let key = PrivateKey::generate().public_key();
    a.add_peer_pb(peer_req(&key.to_base64(), "10.42.2.0/24"))
        .unwrap();
    a.attach_pb(pb::AttachRequest {
        name: "web".into(),
        ..attach_req("blue", "c1")
    })
    .unwrap();
    a.attach_pb(attach_req("br", "c2")).unwrap();
    a.dataplane().lock().writes = 0;
    (a, key)
}

/// The peers of the fake's wg0, to change behind the agent's back.
fn with_peers(a: &Agent<FakeDataplane>, change: impl FnOnce(&mut Vec<PeerConfig>)) {
    let mut s = a.dataplane().lock();
    let NetworkKind::Wireguard { peers, .. } = &mut s.networks.get_mut("wg0").unwrap().kind else {
        panic!("wg0 is a WireGuard network");
    };
    change(peers);
}

fn repairs(a: &Agent<FakeDataplane>, kind: &str) -> u64 {
    a.health_book()
        .drift_repairs()
        .get(kind)
        .copied()
        .unwrap_or(0)
}

/// A second pass after a repair finds nothing and writes nothing.
fn assert_settled(a: &mut Agent<FakeDataplane>) {
    a.dataplane().lock().writes = 0;
    let again = a.repair_drift().unwrap();
    assert_eq!(again, Default::default(), "a second pass found drift");
    assert_eq!(a.dataplane().lock().writes, 0, "a second pass wrote");
}

#[test]
fn nothing_drifted_nothing_written() {
    let (mut a, _) = settled();
    for _ in 0..3 {
        let report = a.repair_drift().unwrap();
        assert_eq!(report, Default::default());
    }
    assert_eq!(a.dataplane().lock().writes, 0);
    assert!(a.health_book().drift_repairs().is_empty());
}

#[test]
fn a_firewall_changed_by_hand_is_restored_and_counted() {
    let (mut a, _) = settled();
    let wanted = a.dataplane().lock().firewall.clone();
    assert_eq!(wanted.len(), 2, "blue and br");
    a.dataplane().lock().firewall.pop();
    let report = a.repair_drift().unwrap();
    assert_eq!(
        report.repaired,
        vec!["table inet weft: not as weft made it, restored".to_string()]
    );
    assert_eq!(a.dataplane().lock().firewall, wanted);
    assert_eq!(repairs(&a, "firewall"), 1);
    assert_settled(&mut a);
}

#[test]
fn a_missing_peer_is_re_added_and_counted() {
    let (mut a, key) = settled();
    with_peers(&a, |peers| peers.clear());
    let report = a.repair_drift().unwrap();
    assert_eq!(
        report.repaired,
        vec![format!("wg0: peer {key} missing, re-added")]
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let peers = a.dataplane().peers("wg0");
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].public_key, key);
    assert_eq!(repairs(&a, "peer_missing"), 1);
    assert_settled(&mut a);
}

#[test]
fn a_rogue_peer_is_removed_and_counted() {
    let (mut a, key) = settled();
    let rogue = PrivateKey::generate().public_key();
    with_peers(&a, |peers| {
        let mut p = PeerConfig::new(rogue);
        p.allowed_ips = vec!["10.42.9.0/24".parse().unwrap()];
        peers.push(p);
    });
    let report = a.repair_drift().unwrap();
    assert_eq!(
        report.repaired,
        vec![format!("wg0: peer {rogue} not weft's, removed")]
    );
    let peers = a.dataplane().peers("wg0");
    assert_eq!(
        peers.iter().map(|p| p.public_key).collect::<Vec<_>>(),
        vec![key],
        "weft's peer stays, the rogue goes"
    );
    assert_eq!(repairs(&a, "peer_rogue"), 1);
    // Nothing the user asked for changed.
    assert_eq!(a.peers("blue").unwrap().len(), 1);
    assert_settled(&mut a);
}

#[test]
fn changed_peer_settings_are_restored_and_counted() {
    let (mut a, key) = settled();
    with_peers(&a, |peers| {
        peers[0].endpoint = Some("198.51.100.7:4000".parse().unwrap());
        peers[0].allowed_ips = vec!["0.0.0.0/0".parse().unwrap()];
        peers[0].persistent_keepalive = Some(5);
    });
    let report = a.repair_drift().unwrap();
    assert_eq!(
        report.repaired,
        vec![format!(
            "wg0: peer {key} allowed-ips 0.0.0.0/0 (weft's are 10.42.2.0/24), \
             keepalive 5 (weft's is 0), endpoint 198.51.100.7:4000 (weft's is 192.0.2.2:51820), \
             restored"
        )]
    );
    let peer = &a.dataplane().peers("wg0")[0];
    assert_eq!(peer.endpoint, Some("192.0.2.2:51820".parse().unwrap()));
    assert_eq!(peer.allowed_ips, vec!["10.42.2.0/24".parse().unwrap()]);
    assert_eq!(peer.persistent_keepalive, Some(0));
    assert_eq!(repairs(&a, "peer_changed"), 1);
    assert_settled(&mut a);
}

#[test]
fn a_deleted_interface_is_re_created_with_its_peers() {
    let (mut a, key) = settled();
    a.dataplane().lock().networks.remove("wg0");
    let report = a.repair_drift().unwrap();
    assert_eq!(report.repaired, vec!["wg0: interface missing, re-created"]);
    assert_eq!(a.dataplane().peers("wg0")[0].public_key, key);
    assert_eq!(repairs(&a, "interface_missing"), 1);
    assert_settled(&mut a);
}

#[test]
fn an_interface_taken_down_is_restored() {
    let (mut a, _) = settled();
    a.dataplane().lock().down.insert("wg0".into());
    let report = a.repair_drift().unwrap();
    assert_eq!(report.repaired, vec!["wg0: interface down, restored"]);
    assert_eq!(repairs(&a, "interface"), 1);
    assert_settled(&mut a);
}

#[test]
fn deleted_veths_are_re_created_and_counted() {
    let (mut a, _) = settled();
    {
        let mut s = a.dataplane().lock();
        s.attachments.remove("w0-c1");
        s.attachments.remove("fn-c2");
    }
    let mut report = a.repair_drift().unwrap();
    report.repaired.sort();
    assert_eq!(
        report.repaired,
        vec![
            "fn-c2: veth missing, re-created",
            "w0-c1: veth missing, re-created"
        ]
    );
    let s = a.dataplane().lock();
    assert!(s.attachments.contains_key("w0-c1") && s.attachments.contains_key("fn-c2"));
    drop(s);
    assert_eq!(repairs(&a, "attachment_missing"), 2);
    assert_eq!(a.store().attachments().unwrap().len(), 2, "records kept");
    assert_settled(&mut a);
}

#[test]
fn a_veth_whose_namespace_is_gone_is_released_not_re_created() {
    let (mut a, _) = settled();
    let zone = a.dataplane().lock().records[&("blue".to_string(), "local".to_string())].clone();
    assert!(zone.contains_key("web"), "{zone:?}");
    {
        let mut s = a.dataplane().lock();
        s.attachments.remove("w0-c1");
        s.namespaces.remove("/run/netns/c1");
    }
    let report = a.repair_drift().unwrap();
    assert_eq!(report.released, vec!["blue/c1"]);
    assert!(report.repaired.is_empty());
    assert!(!a.dataplane().lock().attachments.contains_key("w0-c1"));
    assert_eq!(a.store().attachments_of_network("blue").unwrap().len(), 0);
    let names = |a: &Agent<FakeDataplane>| {
        a.dataplane().lock().records[&("blue".to_string(), "local".to_string())].clone()
    };
    assert!(!names(&a).contains_key("web"), "its name left the zone");
    assert!(names(&a).contains_key("host"), "{:?}", names(&a));
    assert_settled(&mut a);
}

#[test]
fn links_marked_as_weft_but_unknown_are_removed_others_untouched() {
    let (mut a, _) = settled();
    {
        let mut s = a.dataplane().lock();
        s.stray_links
            .insert("w0-old".into(), "weft:blue/old".into());
        s.stray_links
            .insert("eth9".into(), "somebody else's".into());
    }
    let report = a.repair_drift().unwrap();
    assert_eq!(report.orphans_removed, vec!["w0-old"]);
    let s = a.dataplane().lock();
    assert!(!s.stray_links.contains_key("w0-old"));
    assert!(s.stray_links.contains_key("eth9"), "not weft's: untouched");
    drop(s);
    assert_eq!(repairs(&a, "orphan_link"), 1);
    assert_settled(&mut a);
}

#[test]
fn a_failed_repair_is_reported_counted_and_retried() {
    let (mut a, key) = settled();
    with_peers(&a, |peers| peers.clear());
    a.dataplane().lock().fail_set_peers = true;
    let report = a.repair_drift().unwrap();
    assert!(report.repaired.is_empty());
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0].contains(&format!("(of blue): peer {key} missing; repair failed")),
        "{:?}",
        report.errors
    );
    assert_eq!(repairs(&a, "peer_missing"), 0);
    let failures = |a: &Agent<FakeDataplane>| {
        a.health_book()
            .drift_errors
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(failures(&a), 1);
    // Tried again on every pass; the same failure is not new.
    let again = a.repair_drift().unwrap();
    assert_eq!(again.errors, report.errors);
    assert_eq!(failures(&a), 2);
    assert_eq!(
        a.health_book().swap_drift_failures(&again.errors).len(),
        1,
        "a lasting failure is known as one"
    );
    a.dataplane().lock().fail_set_peers = false;
    let report = a.repair_drift().unwrap();
    assert_eq!(report.repaired.len(), 1, "retried on the next pass");
    assert_settled(&mut a);
}

#[test]
fn repairs_show_in_the_metrics() {
    let (mut a, _) = settled();
    with_peers(&a, |peers| peers.clear());
    a.repair_drift().unwrap();
    let text = crate::metrics::render(&a).unwrap();
    assert!(
        text.contains("# HELP weft_drift_repairs Drift of weft's kernel state"),
        "{text}"
    );
    assert!(
        text.contains("weft_drift_repairs_total{kind=\"peer_missing\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("weft_drift_repairs_total{kind=\"peer_rogue\"} 0"),
        "{text}"
    );
}

/// A peer that roamed (a fresh handshake from another address) keeps the
/// endpoint WireGuard learnt; once the session is stale, weft's returns.
#[test]
fn a_roamed_endpoint_with_a_fresh_handshake_is_not_drift() {
    let (a, key) = settled();
    let plan: NetworkPlan = a.dataplane().lock().networks["wg0"].clone();
    let mut device = a.dataplane().network_status("wg0").unwrap();
    device.peers[0].endpoint = Some("198.51.100.7:4000".parse().unwrap());
    let mut host = a.dataplane().observe_host().unwrap();
    host.links.retain(|name, _| name == "wg0");
    let now = SystemTime::now();
    device.peers[0].last_handshake = Some(now - Duration::from_secs(30));
    assert_eq!(network_drift(&plan, &host, Some(&device), now), vec![]);
    device.peers[0].last_handshake = Some(now - Duration::from_secs(600));
    let drift = network_drift(&plan, &host, Some(&device), now);
    assert!(
        matches!(&drift[..], [Drift::PeerChanged { key: k, what }] if *k == key && what.starts_with("endpoint")),
        "{drift:?}"
    );
    // The kernel keeps allowed-ips as networks: host bits given are no drift.
    let mut sloppy = plan.clone();
    let NetworkKind::Wireguard { peers, .. } = &mut sloppy.kind else {
        unreachable!()
    };
    peers[0].allowed_ips = vec!["10.42.2.1/24".parse().unwrap()];
    device.peers[0].endpoint = peers[0].endpoint;
    assert_eq!(network_drift(&sloppy, &host, Some(&device), now), vec![]);
    // And with no interface at all there is one thing to say.
    assert_eq!(
        network_drift(&plan, &HostView::default(), None, now),
        vec![Drift::InterfaceMissing]
    );
}

#[test]
fn a_changed_private_key_and_listen_port_are_restored() {
    let (mut a, _) = settled();
    let blue = a
        .networks()
        .unwrap()
        .into_iter()
        .find(|n| n.record.name == "blue");
    let own = blue.unwrap().public_key.unwrap();
    {
        let mut s = a.dataplane().lock();
        let NetworkKind::Wireguard {
            private_key,
            listen_port,
            ..
        } = &mut s.networks.get_mut("wg0").unwrap().kind
        else {
            panic!("wg0 is a WireGuard network");
        };
        *private_key = PrivateKey::generate();
        *listen_port = 4242;
    }
    let report = a.repair_drift().unwrap();
    assert_eq!(
        report.repaired,
        vec![
            "wg0: private key changed, restored",
            "wg0: listen port 4242 (weft's is 51820), restored"
        ]
    );
    let device = a.dataplane().network_status("wg0").unwrap();
    assert_eq!(device.public_key, Some(own));
    assert_eq!(device.listen_port, DEFAULT_LISTEN_PORT);
    assert_eq!(repairs(&a, "private_key"), 1);
    assert_eq!(repairs(&a, "listen_port"), 1);
    assert_settled(&mut a);
}
