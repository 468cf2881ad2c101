//! Attachments: addresses, interface names, default routes, checks, GC.

use super::*;

#[test]
fn attachments_get_addresses_names_and_one_default_route() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(red()).unwrap();
    let c1 = a.attach_pb(attach_req("blue", "c1")).unwrap();
    assert_eq!(c1.record.ip.to_string(), "10.42.1.2");
    assert_eq!(c1.record.ifname, "eth0");
    assert_eq!(c1.record.host_ifname, "w0-c1");
    assert_eq!(c1.gateway.to_string(), "10.42.1.1");
    assert_eq!(c1.mtu, crate::dataplane::TUNNEL_MTU, "the plan's MTU");
    assert!(c1.record.default_route);
    let c2 = a.attach_pb(attach_req("blue", "c2")).unwrap();
    assert_eq!(c2.record.ip.to_string(), "10.42.1.3");
    let c1_red = a.attach_pb(attach_req("red", "c1")).unwrap();
    assert_eq!(c1_red.record.ifname, "eth1");
    assert_eq!(c1_red.record.host_ifname, "w1-c1");
    assert!(!c1_red.record.default_route);
    assert_eq!(c1_red.record.ip.to_string(), "10.43.1.2");
    let custom = a
        .attach_pb(pb::AttachRequest {
            ifname: "net9".into(),
            ip: "10.43.1.77".into(),
            ..attach_req("red", "c3")
        })
        .unwrap();
    assert_eq!(custom.record.ifname, "net9");
    assert_eq!(custom.record.ip.to_string(), "10.43.1.77");
    assert_eq!(a.dataplane().lock().attachments.len(), 4);
}

#[test]
fn bad_attachments_change_nothing() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(red()).unwrap();
    a.attach_pb(attach_req("blue", "c1")).unwrap();
    let before = snapshot(&a);
    for (req, want) in [
        (attach_req("blue", "c1"), "already attached"),
        (attach_req("nope", "c2"), "network \"nope\" does not exist"),
        (
            pb::AttachRequest {
                netns: "/run/netns/missing".into(),
                ..attach_req("blue", "c2")
            },
            "no network namespace",
        ),
        (
            pb::AttachRequest {
                netns: "/run/netns/c3".into(),
                ..attach_req("red", "c1")
            },
            "another namespace",
        ),
        (
            pb::AttachRequest {
                id: "a/b".into(),
                ..attach_req("blue", "c2")
            },
            "workload id",
        ),
        (
            pb::AttachRequest {
                name: "bad.name".into(),
                ..attach_req("blue", "c2")
            },
            "workload name",
        ),
        (
            pb::AttachRequest {
                ifname: "x".repeat(16),
                ..attach_req("blue", "c2")
            },
            "ifname",
        ),
        (
            pb::AttachRequest {
                ifname: "eth0".into(),
                ..attach_req("red", "c1")
            },
            "already used by this workload",
        ),
        (
            pb::AttachRequest {
                ip: "10.42.1.2".into(),
                ..attach_req("blue", "c2")
            },
            "in use",
        ),
        (
            pb::AttachRequest {
                ip: "10.42.2.9".into(),
                ..attach_req("blue", "c2")
            },
            "outside this host's block",
        ),
        (
            pb::AttachRequest {
                ip: "ten".into(),
                ..attach_req("blue", "c2")
            },
            "not an IP",
        ),
    ] {
        let err = a.attach_pb(req).unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
        assert_eq!(snapshot(&a), before);
    }
}

#[test]
fn failed_attach_frees_the_address() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.dataplane().lock().fail_create_attachment = true;
    assert!(a.attach_pb(attach_req("blue", "c1")).is_err());
    assert!(a.store().attachments().unwrap().is_empty());
    a.dataplane().lock().fail_create_attachment = false;
    assert_eq!(
        a.attach_pb(attach_req("blue", "c1"))
            .unwrap()
            .record
            .ip
            .to_string(),
        "10.42.1.2"
    );
}

#[test]
fn detach_frees_and_unknown_detach_succeeds() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.attach_pb(attach_req("blue", "c1")).unwrap();
    a.attach_pb(attach_req("blue", "c2")).unwrap();
    assert!(a.detach("blue", "c1").unwrap());
    assert!(!a.detach("blue", "c1").unwrap());
    assert!(!a.detach("blue", "never").unwrap());
    assert!(
        a.detach("nope", "c1").is_err(),
        "unknown network is an error"
    );
    assert_eq!(a.dataplane().lock().attachments.len(), 1);
    // The freed address is handed out again.
    assert_eq!(
        a.attach_pb(attach_req("blue", "c3"))
            .unwrap()
            .record
            .ip
            .to_string(),
        "10.42.1.2"
    );
}

#[test]
fn check_finds_broken_attachments() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.attach_pb(attach_req("blue", "c1")).unwrap();
    let ok = a.check("blue", "c1").unwrap();
    assert_eq!(ok.state.unwrap().host_mac, "02:00:00:00:00:02");
    assert!(matches!(
        a.check("blue", "c2"),
        Err(AgentError::NotFound { .. })
    ));
    a.dataplane().lock().attachments.clear();
    let err = a.check("blue", "c1").unwrap_err().to_string();
    assert!(err.contains("broken") && err.contains("w0-c1"), "{err}");
}

#[test]
fn gc_releases_what_is_not_kept() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    for id in ["c1", "c2", "c3"] {
        a.attach_pb(attach_req("blue", id)).unwrap();
    }
    let released = a.gc("blue", &["c2".to_string()]).unwrap();
    assert_eq!(released, vec!["c1", "c3"]);
    let left: Vec<String> = a
        .store()
        .attachments()
        .unwrap()
        .into_iter()
        .map(|x| x.workload_id)
        .collect();
    assert_eq!(left, vec!["c2"]);
    assert_eq!(a.dataplane().lock().attachments.len(), 1);
    assert!(a.gc("blue", &["c2".to_string()]).unwrap().is_empty());
}
