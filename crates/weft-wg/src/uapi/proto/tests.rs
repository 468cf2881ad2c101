use super::*;

fn key(byte: u8) -> [u8; 32] {
    [byte; 32]
}

fn hexkey(byte: u8) -> String {
    PublicKey(key(byte)).to_hex()
}

fn set(text: &str) -> DeviceConfig {
    match parse_request(text) {
        Ok(Request::Set(config)) => config,
        other => panic!("expected a set request, got {other:?}"),
    }
}

/// The exact text `wg set wg0 listen-port 51820 fwmark 7 private-key F peer
/// P preshared-key F2 endpoint 192.0.2.2:51820 persistent-keepalive 25
/// allowed-ips 10.9.0.2/32,fd00::/64` sends (wireguard-tools
/// `userspace_set_device`), plus a second peer removed.
#[test]
fn parses_what_wg_set_sends() {
    let text = format!(
        "set=1\nprivate_key={}\nlisten_port=51820\nfwmark=7\npublic_key={}\npreshared_key={}\n\
         endpoint=192.0.2.2:51820\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\n\
         allowed_ip=10.9.0.2/32\nallowed_ip=fd00::/64\npublic_key={}\nremove=true\n\n",
        hexkey(1),
        hexkey(2),
        hexkey(3),
        hexkey(4)
    );
    let config = set(&text);
    assert_eq!(config.private_key, Some(PrivateKey::from_bytes(key(1))));
    assert_eq!(config.listen_port, Some(51820));
    assert_eq!(config.fwmark, Some(7));
    assert!(!config.replace_peers);
    assert_eq!(config.peers.len(), 2);
    let peer = &config.peers[0];
    assert_eq!(peer.public_key, PublicKey(key(2)));
    assert_eq!(peer.preshared_key, Some(key(3)));
    assert_eq!(peer.endpoint, Some("192.0.2.2:51820".parse().unwrap()));
    assert_eq!(peer.persistent_keepalive, Some(25));
    assert!(peer.replace_allowed_ips);
    assert_eq!(
        peer.allowed_ips,
        vec![
            "10.9.0.2/32".parse::<IpNet>().unwrap(),
            "fd00::/64".parse().unwrap()
        ]
    );
    assert!(!peer.remove);
    assert_eq!(config.peers[1].public_key, PublicKey(key(4)));
    assert!(config.peers[1].remove);
}

#[test]
fn set_request_round_trips() {
    let mut peer = PeerConfig::new(PublicKey(key(9)));
    peer.update_only = true;
    peer.endpoint = Some("[2001:db8::1]:51820".parse().unwrap());
    peer.persistent_keepalive = Some(0);
    peer.allowed_ips = vec!["10.0.0.0/8".parse().unwrap(), "::/0".parse().unwrap()];
    peer.preshared_key = Some([0; 32]);
    let mut removed = PeerConfig::new(PublicKey(key(10)));
    removed.remove = true;
    let config = DeviceConfig {
        private_key: Some(PrivateKey::from_bytes(key(8))),
        listen_port: Some(0),
        fwmark: Some(0),
        retiring_key: None,
        replace_peers: true,
        peers: vec![peer, removed],
    };
    let text = format_set_request(&config);
    assert!(text.starts_with("set=1\n") && text.ends_with("\n\n"));
    assert!(text.contains("endpoint=[2001:db8::1]:51820\n"), "{text}");
    assert_eq!(set(&text), config);
}

#[test]
fn get_request_and_errors() {
    assert_eq!(parse_request("get=1\n\n"), Ok(Request::Get));
    assert_eq!(
        parse_request("get=1\n"),
        Ok(Request::Get),
        "the empty line may be cut off"
    );
    assert_eq!(parse_request(""), Err(ProtoError::Empty));
    assert_eq!(parse_request("\n"), Err(ProtoError::Empty));
    assert_eq!(
        parse_request("get=2\n\n"),
        Err(ProtoError::UnknownOperation)
    );
    assert!(matches!(
        parse_request("get=1\nfoo=bar\n\n"),
        Err(ProtoError::UnknownKey { .. })
    ));
    // Text after the empty line belongs to the next request.
    assert_eq!(parse_request("get=1\n\nset=1\nbogus\n\n"), Ok(Request::Get));
}

#[test]
fn invalid_set_requests_are_refused_with_einval() {
    let pk = hexkey(2);
    let cases = [
        ("set=1\nbogus_key=1\n\n", "unknown device key"),
        (
            &*format!("set=1\npublic_key={pk}\nbogus=1\n\n"),
            "unknown peer key",
        ),
        ("set=1\nlisten_port=65536\n\n", "port out of range"),
        ("set=1\nlisten_port=+1\n\n", "sign"),
        ("set=1\nlisten_port=\n\n", "empty number"),
        ("set=1\nprivate_key=abcd\n\n", "short key"),
        ("set=1\npublic_key=zz\n\n", "bad hex"),
        ("set=1\nreplace_peers=yes\n\n", "bool"),
        ("set=1\nnoequals\n\n", "no ="),
        ("set=1\nallowed_ip=10.0.0.0/8\n\n", "peer key before a peer"),
        (
            &*format!("set=1\npublic_key={pk}\nallowed_ip=10.0.0.0/33\n\n"),
            "prefix",
        ),
        (
            &*format!("set=1\npublic_key={pk}\nallowed_ip=10.0.0.1\n\n"),
            "no prefix",
        ),
        (
            &*format!("set=1\npublic_key={pk}\nallowed_ip=-10.0.0.0/8\n\n"),
            "removal",
        ),
        (
            &*format!("set=1\npublic_key={pk}\nendpoint=192.0.2.1\n\n"),
            "no port",
        ),
        (
            &*format!("set=1\npublic_key={pk}\nendpoint=[::1:1\n\n"),
            "bad v6",
        ),
        (
            &*format!("set=1\npublic_key={pk}\nprotocol_version=2\n\n"),
            "version",
        ),
        (
            &*format!("set=1\npublic_key={pk}\nprivate_key={pk}\n\n"),
            "device key in peer",
        ),
    ];
    for (text, why) in cases {
        let err = parse_request(text).expect_err(why);
        assert_eq!(err.errno(), libc::EINVAL, "{why}: {err}");
    }
}

#[test]
fn errors_never_quote_values() {
    let secret = "s3cr3t".repeat(10);
    let err = parse_request(&format!("set=1\nprivate_key={secret}\n\n")).unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
}

#[test]
fn allowed_ips_are_normalised_to_their_network() {
    let config = set(&format!(
        "set=1\npublic_key={}\nallowed_ip=10.9.0.7/24\n\n",
        hexkey(2)
    ));
    assert_eq!(
        config.peers[0].allowed_ips,
        vec!["10.9.0.0/24".parse::<IpNet>().unwrap()]
    );
}

#[test]
fn debug_output_hides_secrets() {
    let config = set(&format!(
        "set=1\nprivate_key={}\npublic_key={}\npreshared_key={}\n\n",
        hexkey(0xab),
        hexkey(2),
        hexkey(0xcd)
    ));
    let shown = format!("{config:?} {:?}", sample_dump());
    assert!(
        !shown.contains("171") && !shown.contains("205") && !shown.contains("3, 3"),
        "{shown}"
    );
    assert!(
        !shown.to_lowercase().contains("abab") && !shown.contains("q6ur"),
        "{shown}"
    );
    assert!(shown.contains("<hidden>"));
}

#[test]
fn errno_is_sent_negated() {
    assert_eq!(format_errno(0), "errno=0\n\n");
    assert_eq!(format_errno(libc::EINVAL), "errno=-22\n\n");
    assert_eq!(parse_errno("errno=-22\n\n"), Ok(-22));
}

fn sample_dump() -> DeviceDump {
    DeviceDump {
        private_key: Some(PrivateKey::from_bytes(key(1))),
        listen_port: 51820,
        fwmark: 0,
        peers: vec![
            PeerDump {
                info: PeerInfo {
                    public_key: PublicKey(key(2)),
                    endpoint: Some("192.0.2.2:51820".parse().unwrap()),
                    allowed_ips: vec!["10.9.0.2/32".parse().unwrap()],
                    last_handshake: Some(UNIX_EPOCH + Duration::new(1_700_000_000, 123)),
                    rx_bytes: 1000,
                    tx_bytes: 2000,
                    persistent_keepalive: Some(25),
                },
                preshared_key: Some(key(3)),
            },
            PeerDump {
                info: PeerInfo {
                    public_key: PublicKey(key(4)),
                    endpoint: None,
                    allowed_ips: vec![],
                    last_handshake: None,
                    rx_bytes: 0,
                    tx_bytes: 0,
                    persistent_keepalive: None,
                },
                preshared_key: None,
            },
        ],
    }
}

#[test]
fn get_response_has_the_expected_text() {
    let text = format_get_response(&sample_dump());
    let expected = format!(
        "private_key={}\nlisten_port=51820\npublic_key={}\npreshared_key={}\nprotocol_version=1\n\
         endpoint=192.0.2.2:51820\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=123\n\
         tx_bytes=2000\nrx_bytes=1000\npersistent_keepalive_interval=25\nallowed_ip=10.9.0.2/32\n\
         public_key={}\nprotocol_version=1\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n\
         tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\nerrno=0\n\n",
        hexkey(1),
        hexkey(2),
        hexkey(3),
        hexkey(4)
    );
    assert_eq!(text, expected);
}

#[test]
fn get_response_round_trips() {
    let mut dump = sample_dump();
    dump.fwmark = 0x51;
    let text = format_get_response(&dump);
    assert!(text.contains("fwmark=81\n"));
    let (parsed, errno) = parse_get_response(&text).unwrap();
    assert_eq!(errno, 0);
    assert_eq!(parsed, dump);
    let info = parsed.into_info("wg0");
    assert_eq!(
        info.public_key,
        Some(PrivateKey::from_bytes(key(1)).public_key())
    );
    assert_eq!(info.peers.len(), 2);
}

#[test]
fn get_response_without_errno_is_refused() {
    assert!(parse_get_response("listen_port=1\n\n").is_err());
}

/// A small seeded generator, so that a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Values that sit on the edges of what the keys accept.
const ODD_VALUES: &[&str] = &[
    "",
    "0",
    "-1",
    "65535",
    "65536",
    "4294967296",
    "99999999999999999999999",
    "true",
    "false",
    "TRUE",
    "1.2.3.4",
    "1.2.3.4:",
    ":51820",
    "[::1]:0",
    "[::1",
    "::",
    "0.0.0.0/0",
    "10.0.0.0/33",
    "fd00::/129",
    "10.0.0.1/8",
    "zz",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000",
    "ééééééééééééééééééééééééééééééééé",
    "=",
    "a=b=c",
];

/// Mutate a request: whole lines (drop, repeat, swap, new value, junk
/// line) or single bytes.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(lines.len());
        match rng.below(7) {
            0 => {
                lines.remove(at);
                if lines.is_empty() {
                    break;
                }
            }
            1 => lines.insert(at, lines[at].clone()),
            2 => {
                let other = rng.below(lines.len());
                lines.swap(at, other);
            }
            3 => {
                let key = lines[at].split('=').next().unwrap_or_default().to_owned();
                lines[at] = format!("{key}={}", ODD_VALUES[rng.below(ODD_VALUES.len())]);
            }
            4 => lines.insert(at, ODD_VALUES[rng.below(ODD_VALUES.len())].to_owned()),
            _ => {
                let mut bytes = lines[at].clone().into_bytes();
                if !bytes.is_empty() {
                    let i = rng.below(bytes.len());
                    bytes[i] = rng.next() as u8;
                }
                lines[at] = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    lines.join("\n")
}

/// What a set request does: of a peer that is removed, only its key counts
/// (its other lines are not applied, and are not written out).
fn meaning(mut config: DeviceConfig) -> DeviceConfig {
    for peer in &mut config.peers {
        if peer.remove {
            *peer = PeerConfig {
                remove: true,
                ..PeerConfig::new(peer.public_key)
            };
        }
    }
    config
}

/// Untrusted text on the UAPI socket: whatever arrives, the parser answers
/// with a result or an error, never a panic; errors are EPROTO or EINVAL and
/// never quote a key; whatever it accepts it writes back to the same thing.
#[test]
fn mutated_requests_are_parsed_or_refused_never_panic() {
    let mut full = DeviceConfig {
        private_key: Some(PrivateKey::from_bytes(key(1))),
        listen_port: Some(51820),
        fwmark: Some(7),
        replace_peers: true,
        ..Default::default()
    };
    let mut peer = PeerConfig::new(PublicKey(key(2)));
    peer.preshared_key = Some(key(3));
    peer.endpoint = Some("[fd00::1]:51820".parse().unwrap());
    peer.persistent_keepalive = Some(25);
    peer.replace_allowed_ips = true;
    peer.allowed_ips = vec!["10.9.0.0/24".parse().unwrap(), "fd00::/64".parse().unwrap()];
    full.peers.push(peer);
    let mut removed = PeerConfig::new(PublicKey(key(4)));
    removed.remove = true;
    full.peers.push(removed);
    let mut updated = PeerConfig::new(PublicKey(key(5)));
    updated.update_only = true;
    full.peers.push(updated);
    let seeds = [
        format_set_request(&full),
        "get=1\n\n".to_owned(),
        "set=1\nlisten_port=1\n\n".to_owned(),
    ];
    let secrets: Vec<String> = (1..=5).map(hexkey).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..30_000 {
        let seed = &seeds[round % seeds.len()];
        let text = mutate(&mut rng, seed);
        match parse_request(&text) {
            Ok(Request::Set(config)) => {
                accepted += 1;
                let again = match parse_request(&format_set_request(&config)) {
                    Ok(Request::Set(again)) => again,
                    other => panic!("{other:?}: does not round-trip: {text:?}"),
                };
                assert_eq!(
                    meaning(again),
                    meaning(config),
                    "does not round-trip: {text:?}"
                );
            }
            Ok(Request::Get) => accepted += 1,
            Err(e) => {
                refused += 1;
                assert!(
                    [libc::EPROTO, libc::EINVAL].contains(&e.errno()),
                    "{e} for {text:?}"
                );
                let message = e.to_string();
                assert!(
                    !secrets.iter().any(|s| message.contains(s.as_str())),
                    "the error quotes a key: {message}"
                );
            }
        }
    }
    // The mutations reach both outcomes, or the test shows nothing.
    assert!(
        accepted > 1000 && refused > 1000,
        "accepted {accepted}, refused {refused}"
    );
}

/// What `wg` reads back from a userspace implementation (a get response),
/// mutated: parsed or refused, never a panic.
#[test]
fn mutated_get_responses_never_panic() {
    let seed = format_get_response(&sample_dump());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut refused = 0;
    for _ in 0..20_000 {
        let text = mutate(&mut rng, &seed);
        if parse_get_response(&text).is_err() {
            refused += 1;
        }
    }
    assert!(refused > 1000, "refused only {refused}");
}
