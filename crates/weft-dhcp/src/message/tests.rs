use super::*;

const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

fn discover() -> Vec<u8> {
    let mut m = Message::request(MessageType::Discover, 0xdead_beef, MAC);
    m.flags = FLAG_BROADCAST;
    m.options
        .insert(opt::PARAMETER_LIST, vec![1, 3, 6, 15, 26, 121]);
    m.encode()
}

#[test]
fn a_message_round_trips() {
    let bytes = discover();
    assert_eq!(bytes.len(), MIN_MESSAGE_LEN);
    let m = Message::decode(&bytes).unwrap();
    assert_eq!(m.op, OP_REQUEST);
    assert_eq!(m.xid, 0xdead_beef);
    assert_eq!(m.flags, FLAG_BROADCAST);
    assert_eq!(m.chaddr, MAC);
    assert_eq!(m.message_type(), Ok(MessageType::Discover));
    assert_eq!(m.options[&opt::PARAMETER_LIST], [1, 3, 6, 15, 26, 121]);
    assert_eq!(m.encode(), bytes);
}

#[test]
fn a_udhcpc_discover_decodes() {
    // Header fields as busybox sends them, options written by hand:
    // type, client id, max size, vendor class, parameter list.
    let mut bytes = vec![0u8; HEADER_LEN];
    bytes[..4].copy_from_slice(&[1, 1, 6, 0]);
    bytes[4..8].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    bytes[28..34].copy_from_slice(&MAC);
    bytes.extend_from_slice(&MAGIC_COOKIE);
    bytes.extend_from_slice(&[53, 1, 1, 61, 7, 1]);
    bytes.extend_from_slice(&MAC);
    bytes.extend_from_slice(&[57, 2, 0x02, 0x40, 60, 12]);
    bytes.extend_from_slice(b"udhcp 1.35.0");
    bytes.extend_from_slice(&[55, 7, 1, 3, 6, 12, 15, 28, 121, 255, 0, 0]);
    let m = Message::decode(&bytes).unwrap();
    assert_eq!(m.xid, 0x1234_5678);
    assert_eq!(m.message_type(), Ok(MessageType::Discover));
    assert_eq!(m.options[&60], b"udhcp 1.35.0");
    assert_eq!(m.options.len(), 5);
}

#[test]
fn long_options_are_split_on_encode() {
    let mut m = Message::request(MessageType::Offer, 1, MAC);
    m.options.insert(opt::CLASSLESS_ROUTES, vec![7; 300]);
    let bytes = m.encode();
    let first = HEADER_LEN + 4 + 3;
    assert_eq!(&bytes[first..first + 2], &[121, 255]);
    assert_eq!(&bytes[first + 2 + 255..first + 2 + 255 + 2], &[121, 45]);
}

#[test]
fn malformed_messages_are_errors_never_panics() {
    let good = discover();
    assert_eq!(Message::decode(&[]), Err(DhcpError::TooShort { len: 0 }));
    assert_eq!(
        Message::decode(&good[..HEADER_LEN + 3]),
        Err(DhcpError::TooShort {
            len: HEADER_LEN + 3
        })
    );
    let mut big = good.clone();
    big.resize(MAX_MESSAGE_LEN + 1, 0);
    assert_eq!(
        Message::decode(&big),
        Err(DhcpError::TooLong {
            len: MAX_MESSAGE_LEN + 1
        })
    );
    let mut no_cookie = good.clone();
    no_cookie[HEADER_LEN] = 0;
    assert_eq!(Message::decode(&no_cookie), Err(DhcpError::NoCookie));
    let mut token_ring = good.clone();
    token_ring[1] = 6;
    assert_eq!(
        Message::decode(&token_ring),
        Err(DhcpError::NotEthernet { htype: 6, hlen: 6 })
    );
    // An option whose length runs past the end of the datagram.
    let mut cut = good[..HEADER_LEN + 4].to_vec();
    cut.extend_from_slice(&[53, 1, 1, 55, 40, 1, 2]);
    assert_eq!(
        Message::decode(&cut),
        Err(DhcpError::Truncated { code: 55 })
    );
    let mut no_len = good[..HEADER_LEN + 4].to_vec();
    no_len.extend_from_slice(&[53, 1, 1, 12]);
    assert_eq!(
        Message::decode(&no_len),
        Err(DhcpError::Truncated { code: 12 })
    );
    let mut twice = good[..HEADER_LEN + 4].to_vec();
    twice.extend_from_slice(&[53, 1, 1, 53, 1, 3, 255]);
    assert_eq!(
        Message::decode(&twice),
        Err(DhcpError::Repeated { code: 53 })
    );
    let mut untyped = good[..HEADER_LEN + 4].to_vec();
    untyped.push(255);
    assert_eq!(Message::decode(&untyped), Err(DhcpError::NoType));
    let mut odd_type = good[..HEADER_LEN + 4].to_vec();
    odd_type.extend_from_slice(&[53, 1, 99, 255]);
    assert_eq!(
        Message::decode(&odd_type),
        Err(DhcpError::UnknownType { code: 99 })
    );
    let mut wide_type = good[..HEADER_LEN + 4].to_vec();
    wide_type.extend_from_slice(&[53, 2, 1, 1, 255]);
    assert_eq!(Message::decode(&wide_type), Err(DhcpError::NoType));
}

#[test]
fn every_prefix_and_every_byte_flip_decodes_or_errs() {
    // A cheap, exhaustive stand-in for a fuzzer over one message:
    // each cut and each single-byte change must not panic.
    let good = discover();
    for cut in 0..good.len() {
        let _ = Message::decode(&good[..cut]);
    }
    for at in 0..good.len() {
        for value in [0u8, 1, 2, 53, 55, 127, 254, 255] {
            let mut bytes = good.clone();
            bytes[at] = value;
            let _ = Message::decode(&bytes);
        }
    }
}

#[test]
fn address_options_need_four_bytes() {
    let mut m = Message::request(MessageType::Request, 1, MAC);
    m.options.insert(opt::REQUESTED_ADDRESS, vec![10, 42, 1, 2]);
    m.options.insert(opt::SERVER_ID, vec![10, 42, 1]);
    assert_eq!(
        m.address_option(opt::REQUESTED_ADDRESS),
        Some(Ipv4Addr::new(10, 42, 1, 2))
    );
    assert_eq!(m.address_option(opt::SERVER_ID), None);
    assert_eq!(m.address_option(opt::ROUTER), None);
}
