use super::*;

#[test]
fn prefers_local_over_peer_address() {
    let mut message = AddressMessage::default();
    message.header.index = 4;
    message.header.prefix_len = 32;
    message.attributes = vec![
        AddressAttribute::Address("10.0.0.2".parse().unwrap()),
        AddressAttribute::Local("10.0.0.1".parse().unwrap()),
    ];
    assert_eq!(
        Address::from_message(message),
        Some(Address {
            index: 4,
            addr: "10.0.0.1/32".parse().unwrap()
        })
    );
}

#[test]
fn v4_message_carries_local_and_address_v6_only_address() {
    let v4 = address_message(2, "192.0.2.1/24".parse().unwrap());
    assert_eq!(v4.header.family, AddressFamily::Inet);
    assert_eq!(v4.header.prefix_len, 24);
    assert_eq!(v4.attributes.len(), 2);
    let v6 = address_message(2, "fd00::1/64".parse().unwrap());
    assert_eq!(v6.header.family, AddressFamily::Inet6);
    assert_eq!(
        v6.attributes,
        vec![AddressAttribute::Address("fd00::1".parse().unwrap())]
    );
}
