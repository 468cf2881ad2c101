use super::*;

#[test]
fn ifname_rules() {
    assert!(check_ifname("t", "eth0").is_ok());
    assert!(check_ifname("t", "fn-a1b2c3d4e5f6").is_ok());
    for bad in ["", "0123456789abcdef", "a/b", "a b", "a:b", ".", ".."] {
        let err = check_ifname("t", bad).expect_err(bad);
        assert!(matches!(err, NetError::Invalid { .. }), "{bad}");
    }
}

#[test]
fn link_from_message_reads_fields() {
    let mut message = link_message(7);
    message.header.flags = LinkFlags::Up | LinkFlags::Running;
    message.attributes = vec![
        LinkAttribute::IfName("v0".into()),
        LinkAttribute::IfAlias("weft".into()),
        LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]),
        LinkAttribute::Mtu(1420),
        LinkAttribute::Controller(3),
        LinkAttribute::LinkNetNsId(0),
        LinkAttribute::Link(9),
        LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth)]),
    ];
    let link = Link::from_message(message);
    assert_eq!(
        link,
        Link {
            index: 7,
            name: "v0".into(),
            kind: Some("veth".into()),
            alias: Some("weft".into()),
            mac: Some([2, 0, 0, 0, 0, 1]),
            up: true,
            mtu: 1420,
            master: Some(3),
            link_netnsid: Some(0),
            peer_index: Some(9),
        }
    );
}
