use super::*;

#[test]
fn constructors() {
    let dst: IpNet = "10.1.0.0/16".parse().unwrap();
    let gw: IpAddr = "10.0.0.1".parse().unwrap();
    let via = Route::via(dst, gw, Some(3));
    assert_eq!(via.gateway, Some(gw));
    assert_eq!(via.oif, Some(3));
    assert_eq!(via.scope, RouteScope::Universe);
    assert_eq!((via.src, via.metric), (None, None));

    let link = Route::link(dst, 4);
    assert_eq!(link.gateway, None);
    assert_eq!(link.oif, Some(4));
    assert_eq!(link.scope, RouteScope::Link);
    assert_eq!(link.clone().with_metric(7).metric, Some(7));
}

#[test]
fn message_round_trips() {
    let route = Route::via(
        "fd00:1::/64".parse().unwrap(),
        "fd00::1".parse().unwrap(),
        Some(2),
    )
    .with_metric(50)
    .with_src("fd00::2".parse().unwrap());
    let message = route.to_message("t").unwrap();
    assert_eq!(message.header.destination_prefix_length, 64);
    assert_eq!(Route::from_message(message), Some(route));
}

#[test]
fn host_bits_are_cleared_in_the_request() {
    let route = Route::link("10.1.2.3/16".parse().unwrap(), 1);
    let message = route.to_message("t").unwrap();
    assert!(
        message
            .attributes
            .contains(&RouteAttribute::Destination(RouteAddress::Inet(
                "10.1.0.0".parse().unwrap()
            )))
    );
}

#[test]
fn mixed_families_are_refused() {
    let route = Route::via(
        "10.0.0.0/8".parse().unwrap(),
        "fd00::1".parse().unwrap(),
        None,
    );
    let err = route.to_message("add route").unwrap_err();
    assert!(matches!(err, NetError::Invalid { .. }));
    assert!(err.to_string().contains("fd00::1"), "{err}");
}

#[test]
fn default_route_without_dst_attribute_parses() {
    let mut message = RouteMessage::default();
    message.header.address_family = netlink_packet_route::AddressFamily::Inet;
    message.header.table = RouteHeader::RT_TABLE_MAIN;
    message.header.kind = RouteType::Unicast;
    message.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(
        "192.0.2.1".parse().unwrap(),
    ))];
    let route = Route::from_message(message).expect("parsed");
    assert_eq!(route.dst, "0.0.0.0/0".parse::<IpNet>().unwrap());
}

#[test]
fn other_tables_and_types_are_left_out() {
    let mut message = Route::link("10.0.0.0/8".parse().unwrap(), 1)
        .to_message("t")
        .unwrap();
    message.header.table = 255;
    assert_eq!(Route::from_message(message.clone()), None);
    message.header.table = RouteHeader::RT_TABLE_MAIN;
    message.header.kind = RouteType::Local;
    assert_eq!(Route::from_message(message), None);
}
