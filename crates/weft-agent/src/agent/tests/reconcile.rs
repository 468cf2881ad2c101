//! The start-up reconcile against a data plane that lost things.

use super::*;

#[test]
fn reconcile_restores_releases_and_cleans() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    let k1 = PrivateKey::generate().public_key().to_base64();
    a.add_peer_pb(peer_req(&k1, "10.42.2.0/24")).unwrap();
    a.attach_pb(attach_req("blue", "c1")).unwrap();
    a.attach_pb(attach_req("blue", "c2")).unwrap();
    a.attach_pb(attach_req("blue", "c3")).unwrap();
    {
        let mut s = a.dataplane().lock();
        // A restart: the userspace interface is gone, c1's veth vanished,
        // c2's namespace was deleted, c3's path now names another namespace,
        // and a leftover veth of a forgotten attachment is still there.
        s.networks.clear();
        s.attachments.remove("w0-c1");
        s.namespaces.remove("/run/netns/c2");
        s.namespaces.insert("/run/netns/c3".into(), netns_id(999));
        s.stray_links
            .insert("w0-old".into(), "weft:blue/old".into());
        s.stray_links.insert("eth7".into(), "weft:gone".into());
    }
    let report = a.reconcile().unwrap();
    assert_eq!(report.networks, 1);
    assert_eq!(report.attachments_recreated, 1);
    assert_eq!(report.attachments_released, vec!["blue/c2", "blue/c3"]);
    let mut orphans = report.orphans_removed.clone();
    orphans.sort();
    assert_eq!(orphans, vec!["eth7", "w0-old"]);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let s = a.dataplane().lock();
    assert!(s.networks.contains_key("wg0"), "interface restored");
    drop(s);
    assert_eq!(a.dataplane().peers("wg0").len(), 1, "peers restored");
    let s = a.dataplane().lock();
    assert_eq!(s.attachments.keys().collect::<Vec<_>>(), vec!["w0-c1"]);
    drop(s);
    let ips: Vec<String> = a
        .store()
        .used_ips("blue")
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    assert_eq!(ips, vec!["10.42.1.2"], "released addresses are free");
    // A second pass finds nothing to do.
    let again = a.reconcile().unwrap();
    assert_eq!(
        (again.attachments_kept, again.attachments_recreated),
        (1, 0)
    );
    assert!(again.attachments_released.is_empty() && again.orphans_removed.is_empty());
}
