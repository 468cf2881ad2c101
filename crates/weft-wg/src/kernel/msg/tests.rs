use super::*;
use netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;
use std::net::SocketAddr;

const FAMILY_ID: u16 = 0x1d;

/// Serialize as it would go on the wire, then parse it back.
fn wire_round_trip(message: &WireguardMessage) -> (WireguardMessage, usize) {
    let mut genl = GenlMessage::from_payload(message.clone());
    genl.set_resolved_family_id(FAMILY_ID);
    let mut nl = NetlinkMessage::from(genl);
    nl.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    nl.header.sequence_number = 7;
    nl.finalize();
    let mut bytes = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut bytes);
    assert_eq!(
        u16::from_ne_bytes([bytes[4], bytes[5]]),
        FAMILY_ID,
        "nlmsg_type is the family"
    );
    let parsed = NetlinkMessage::<GenlMessage<WireguardMessage>>::deserialize(&bytes).unwrap();
    assert_eq!(parsed.header.sequence_number, 7);
    let NetlinkPayload::InnerMessage(genl) = parsed.payload else {
        panic!("expected a generic netlink message");
    };
    (genl.payload, bytes.len())
}

/// Rebuild the configuration the kernel would apply from a message series.
fn config_from_messages(messages: &[WireguardMessage]) -> DeviceConfig {
    let mut config = DeviceConfig::default();
    for message in messages {
        assert_eq!(message.cmd, WireguardCmd::SetDevice);
        for attr in &message.attributes {
            match attr {
                WireguardAttribute::PrivateKey(k) => {
                    config.private_key = Some(PrivateKey::from_bytes(*k))
                }
                WireguardAttribute::ListenPort(p) => config.listen_port = Some(*p),
                WireguardAttribute::Fwmark(m) => config.fwmark = Some(*m),
                WireguardAttribute::Flags(f) => {
                    config.replace_peers = f.contains(WireguardDeviceFlags::ReplacePeers);
                }
                WireguardAttribute::Peers(peers) => {
                    for peer in peers {
                        let mut pc = PeerConfig::new(PublicKey([0; 32]));
                        for attr in peer.iter() {
                            match attr {
                                WireguardPeerAttribute::PublicKey(k) => {
                                    pc.public_key = PublicKey(*k)
                                }
                                WireguardPeerAttribute::PresharedKey(k) => {
                                    pc.preshared_key = Some(*k)
                                }
                                WireguardPeerAttribute::Endpoint(e) => pc.endpoint = Some(*e),
                                WireguardPeerAttribute::PersistentKeepalive(s) => {
                                    pc.persistent_keepalive = Some(*s);
                                }
                                WireguardPeerAttribute::Flags(f) => {
                                    pc.remove = f.contains(WireguardPeerFlags::RemoveMe);
                                    pc.update_only = f.contains(WireguardPeerFlags::UpdateOnly);
                                    pc.replace_allowed_ips =
                                        f.contains(WireguardPeerFlags::ReplaceAllowedIps);
                                }
                                WireguardPeerAttribute::AllowedIps(ips) => {
                                    for ip in ips {
                                        pc.allowed_ips.push(parse_allowed_ip(ip).unwrap());
                                    }
                                }
                                other => panic!("unexpected attribute in a set: {other:?}"),
                            }
                        }
                        match config.peers.last_mut() {
                            Some(last) if last.public_key == pc.public_key => {
                                assert!(!pc.replace_allowed_ips, "a continuation must not replace");
                                assert!(pc.endpoint.is_none() && pc.preshared_key.is_none());
                                last.allowed_ips.extend(pc.allowed_ips);
                            }
                            _ => config.peers.push(pc),
                        }
                    }
                }
                WireguardAttribute::IfName(name) => assert_eq!(name, "wg0"),
                other => panic!("unexpected attribute in a set: {other:?}"),
            }
        }
    }
    config
}

fn two_peer_config() -> DeviceConfig {
    let mut a = PeerConfig::new(PublicKey([2; 32]));
    a.endpoint = Some("192.0.2.2:51820".parse().unwrap());
    a.persistent_keepalive = Some(25);
    a.preshared_key = Some([3; 32]);
    a.replace_allowed_ips = true;
    a.allowed_ips = vec![
        "10.9.0.2/32".parse().unwrap(),
        "fd00:9::/64".parse().unwrap(),
    ];
    let mut b = PeerConfig::new(PublicKey([4; 32]));
    b.endpoint = Some(SocketAddr::new("2001:db8::4".parse().unwrap(), 51821));
    b.update_only = true;
    b.allowed_ips = vec!["10.9.1.0/24".parse().unwrap()];
    DeviceConfig {
        private_key: Some(PrivateKey::from_bytes([1; 32])),
        listen_port: Some(51820),
        fwmark: Some(0x42),
        retiring_key: None,
        replace_peers: true,
        peers: vec![a, b],
    }
}

#[test]
fn set_device_with_two_peers_round_trips_through_bytes() {
    let config = two_peer_config();
    let messages = set_device_messages("wg0", &config, MAX_MESSAGE_LEN);
    assert_eq!(messages.len(), 1);
    let (parsed, _) = wire_round_trip(&messages[0]);
    assert_eq!(parsed, messages[0]);
    assert_eq!(config_from_messages(&[parsed]), config);
}

#[test]
fn a_removed_peer_carries_only_its_key_and_flag() {
    let mut gone = PeerConfig::new(PublicKey([9; 32]));
    gone.remove = true;
    gone.endpoint = Some("192.0.2.9:1".parse().unwrap());
    gone.allowed_ips = vec!["10.0.0.9/32".parse().unwrap()];
    let config = DeviceConfig {
        peers: vec![gone],
        ..Default::default()
    };
    let messages = set_device_messages("wg0", &config, MAX_MESSAGE_LEN);
    let WireguardAttribute::Peers(peers) = &messages[0].attributes[1] else {
        panic!()
    };
    assert_eq!(
        peers[0].0,
        vec![
            WireguardPeerAttribute::PublicKey([9; 32]),
            WireguardPeerAttribute::Flags(WireguardPeerFlags::RemoveMe)
        ]
    );
}

#[test]
fn an_empty_config_is_one_message_with_the_name() {
    let messages = set_device_messages("wg0", &DeviceConfig::default(), MAX_MESSAGE_LEN);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].attributes,
        vec![WireguardAttribute::IfName("wg0".into())]
    );
}

#[test]
fn large_configs_are_split_within_the_size_limit() {
    let mut config = two_peer_config();
    // One peer with more allowed IPs than fit in a message, then many peers.
    config.peers[0].allowed_ips = (0..400u32)
        .map(|i| IpNet::new(IpAddr::from((0x0a00_0000 + (i << 8)).to_be_bytes()), 24).unwrap())
        .collect();
    for i in 10..80u8 {
        let mut peer = PeerConfig::new(PublicKey([i; 32]));
        peer.endpoint = Some(SocketAddr::from(([192, 0, 2, i], 51820)));
        peer.allowed_ips = vec![IpNet::new(IpAddr::from([10, 200, i, 0]), 24).unwrap()];
        config.peers.push(peer);
    }
    let messages = set_device_messages("wg0", &config, MAX_MESSAGE_LEN);
    assert!(messages.len() >= 3, "got {} messages", messages.len());
    let mut parsed = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let (back, len) = wire_round_trip(message);
        assert!(len <= MAX_MESSAGE_LEN, "message {i} is {len} bytes");
        assert_eq!(&back, message);
        let has_private_key = back
            .attributes
            .iter()
            .any(|a| matches!(a, WireguardAttribute::PrivateKey(_)));
        assert_eq!(
            has_private_key,
            i == 0,
            "device attributes only in the first message"
        );
        parsed.push(back);
    }
    assert_eq!(config_from_messages(&parsed), config);

    // A small limit forces a split inside every peer and still converges.
    let tiny = set_device_messages("wg0", &two_peer_config(), 120);
    assert!(tiny.len() > 2);
    assert_eq!(config_from_messages(&tiny), two_peer_config());
}

/// What the kernel sends for a dump: device attributes in every message,
/// peers spread over messages, a peer's allowed IPs possibly continued.
fn kernel_dump(
    info: &DeviceInfo,
    private_key: [u8; 32],
    per_message: usize,
) -> Vec<WireguardMessage> {
    let device = vec![
        WireguardAttribute::IfIndex(7),
        WireguardAttribute::IfName(info.ifname.clone()),
        WireguardAttribute::PrivateKey(private_key),
        WireguardAttribute::PublicKey(info.public_key.unwrap().0),
        WireguardAttribute::ListenPort(info.listen_port),
        WireguardAttribute::Fwmark(info.fwmark),
    ];
    let mut pieces = Vec::new();
    for peer in &info.peers {
        let mut first = vec![
            WireguardPeerAttribute::PublicKey(peer.public_key.0),
            WireguardPeerAttribute::PresharedKey([0; 32]),
            WireguardPeerAttribute::LastHandshake(match peer.last_handshake {
                Some(t) => {
                    let d = t.duration_since(UNIX_EPOCH).unwrap();
                    WireguardTimeSpec {
                        seconds: d.as_secs() as i64,
                        nano_seconds: d.subsec_nanos().into(),
                    }
                }
                None => WireguardTimeSpec::default(),
            }),
            WireguardPeerAttribute::PersistentKeepalive(peer.persistent_keepalive.unwrap_or(0)),
            WireguardPeerAttribute::TxBytes(peer.tx_bytes),
            WireguardPeerAttribute::RxBytes(peer.rx_bytes),
            WireguardPeerAttribute::ProtocolVersion(1),
        ];
        if let Some(endpoint) = peer.endpoint {
            first.push(WireguardPeerAttribute::Endpoint(endpoint));
        }
        let mut chunks = peer.allowed_ips.chunks(2);
        first.push(WireguardPeerAttribute::AllowedIps(
            chunks
                .next()
                .unwrap_or_default()
                .iter()
                .map(allowed_ip)
                .collect(),
        ));
        pieces.push(WireguardPeer(first));
        for rest in chunks {
            pieces.push(WireguardPeer(vec![
                WireguardPeerAttribute::PublicKey(peer.public_key.0),
                WireguardPeerAttribute::AllowedIps(rest.iter().map(allowed_ip).collect()),
            ]));
        }
    }
    pieces
        .chunks(per_message)
        .map(|peers| {
            let mut attributes = device.clone();
            attributes.push(WireguardAttribute::Peers(peers.to_vec()));
            WireguardMessage {
                cmd: WireguardCmd::GetDevice,
                attributes,
            }
        })
        .collect()
}

#[test]
fn get_device_replies_parse_into_device_info() {
    let private = PrivateKey::from_bytes([1; 32]);
    let info = DeviceInfo {
        ifname: "wg0".into(),
        public_key: Some(private.public_key()),
        listen_port: 51820,
        fwmark: 9,
        peers: vec![
            PeerInfo {
                public_key: PublicKey([2; 32]),
                endpoint: Some("192.0.2.2:51820".parse().unwrap()),
                allowed_ips: [
                    "10.9.0.2/32",
                    "10.9.2.0/24",
                    "fd00::/64",
                    "fd01::/64",
                    "10.1.0.0/16",
                ]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect(),
                last_handshake: Some(UNIX_EPOCH + Duration::new(1_700_000_000, 5)),
                rx_bytes: 123,
                tx_bytes: 456,
                persistent_keepalive: Some(25),
            },
            PeerInfo {
                public_key: PublicKey([4; 32]),
                endpoint: None,
                allowed_ips: vec![],
                last_handshake: None,
                rx_bytes: 0,
                tx_bytes: 0,
                persistent_keepalive: None,
            },
        ],
        retiring_peers: 0,
    };
    let replies: Vec<_> = kernel_dump(&info, [1; 32], 2)
        .iter()
        .map(|m| wire_round_trip(m).0)
        .collect();
    assert!(replies.len() >= 2, "the dump is spread over messages");
    assert_eq!(device_info_from_replies("wg0", &replies).unwrap(), info);
}

#[test]
fn replies_without_messages_or_keys_are_errors() {
    assert_eq!(device_info_from_replies("wg0", &[]), Err(ReplyError::Empty));
    let keyless = WireguardMessage {
        cmd: WireguardCmd::GetDevice,
        attributes: vec![WireguardAttribute::Peers(vec![WireguardPeer(vec![
            WireguardPeerAttribute::RxBytes(1),
        ])])],
    };
    assert_eq!(
        device_info_from_replies("wg0", &[keyless]),
        Err(ReplyError::PeerWithoutKey)
    );
}

#[test]
fn the_public_key_is_derived_when_only_the_private_key_is_sent() {
    let private = PrivateKey::from_bytes([5; 32]);
    let reply = WireguardMessage {
        cmd: WireguardCmd::GetDevice,
        attributes: vec![WireguardAttribute::PrivateKey(*private.as_bytes())],
    };
    let info = device_info_from_replies("wg0", &[reply]).unwrap();
    assert_eq!(info.public_key, Some(private.public_key()));
}
