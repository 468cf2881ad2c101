//! Two userspace engines in two network namespaces over a veth: real TUN,
//! real UDP, real `ping` and real `wg` against the UAPI sockets.

use crate::common;

use std::time::Duration;

use common::*;
use weft_wg::userspace::EngineOptions;
use weft_wg::{Backend, DeviceConfig, PeerConfig, PrivateKey, Userspace};

fn peer_to(key: &PrivateKey, endpoint: &str, allowed: &str) -> PeerConfig {
    let mut peer = PeerConfig::new(key.public_key());
    peer.endpoint = Some(endpoint.parse().unwrap());
    peer.allowed_ips = vec![allowed.parse().unwrap()];
    peer
}

#[test]
fn two_engines_in_namespaces_ping_and_answer_wg() {
    if !privileged() {
        return;
    }
    let (ns1, ns2) = underlay();
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (uapi1, uapi2) = (dir1.path().join("uapi"), dir2.path().join("uapi"));

    // Create each engine from a thread inside its namespace.
    let backend1 = start_engine(&ns1, uapi1.clone(), "wg1", EngineOptions::default());
    let backend2 = start_engine(&ns2, uapi2.clone(), "wg2", EngineOptions::default());
    assert!(backend1.exists("wg1"));
    assert_eq!(backend1.list(), ["wg1"]);
    assert!(uapi1.join("wg1.sock").exists(), "UAPI socket appears");
    ns1.ip(&["link", "show", "wg1"]);
    assert!(
        nix::net::if_::if_nametoindex("wg1").is_err(),
        "the TUN is not in the host namespace"
    );

    // The engine's packet threads live in the namespace they were started
    // from; timers and the UAPI are served by one thread each for the
    // whole process, whatever the number of interfaces.
    for shared in ["wg-timers", "wg-uapi"] {
        wait_for(shared, Duration::from_secs(2), || {
            threads_named(shared)
                .iter()
                .filter(|(name, _)| name == shared)
                .count()
                == 1
        });
    }
    for (ifname, ns) in [("wg1", &ns1), ("wg2", &ns2)] {
        let threads = || -> Vec<_> {
            threads_named("wg-")
                .into_iter()
                .filter(|(name, _)| name.ends_with(&format!("-{ifname}")))
                .collect()
        };
        // A new thread names itself once it runs.
        wait_for("tun and udp threads", Duration::from_secs(2), || {
            threads().len() == 2
        });
        let threads = threads();
        for (name, inode) in threads {
            assert_eq!(inode, ns.inode(), "thread {name} is in {}", ns.name);
        }
    }

    // Configure from this (host-namespace) thread: the new port must still
    // be bound inside each namespace.
    let (key1, key2) = (PrivateKey::generate(), PrivateKey::generate());
    backend1
        .configure(
            "wg1",
            &DeviceConfig {
                private_key: Some(key1.clone()),
                listen_port: Some(51820),
                peers: vec![peer_to(&key2, "192.0.2.2:51820", "10.9.0.2/32")],
                ..Default::default()
            },
        )
        .unwrap();
    backend2
        .configure(
            "wg2",
            &DeviceConfig {
                private_key: Some(key2.clone()),
                listen_port: Some(51820),
                peers: vec![peer_to(&key1, "192.0.2.1:51820", "10.9.0.1/32")],
                ..Default::default()
            },
        )
        .unwrap();
    assert!(
        ns1.exec_ok(&["ss", "-Huln"]).contains(":51820"),
        "bound inside ns1"
    );

    address(&ns1, "wg1", "10.9.0.1/24");
    address(&ns2, "wg2", "10.9.0.2/24");
    ns1.exec_ok(&["ping", "-c3", "-i0.2", "-W2", "10.9.0.2"]);
    ns2.exec_ok(&["ping", "-c3", "-i0.2", "-W2", "10.9.0.1"]);

    // Live state through the trait…
    let info = backend1.get("wg1").unwrap();
    let peer = info.peer(&key2.public_key()).unwrap();
    assert!(
        peer.last_handshake.is_some() && peer.rx_bytes > 0 && peer.tx_bytes > 0,
        "{peer:?}"
    );

    // …and through the real `wg` on the UAPI socket.
    let (device, peers) = parse_dump(&ns1.wg_ok(&uapi1, &["show", "wg1", "dump"]));
    assert_eq!(device[0], key1.to_base64());
    assert_eq!(device[1], key1.public_key().to_base64());
    assert_eq!(device[2], "51820");
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].public_key, key2.public_key().to_base64());
    assert_eq!(peers[0].endpoint, "192.0.2.2:51820");
    assert_eq!(peers[0].allowed_ips, "10.9.0.2/32");
    assert!(peers[0].latest_handshake > 0, "{:?}", peers[0]);
    assert!(peers[0].rx > 0 && peers[0].tx > 0, "{:?}", peers[0]);
    let pretty = ns1.wg_ok(&uapi1, &["show", "wg1"]);
    assert!(pretty.contains("latest handshake"), "{pretty}");

    // `wg set` through the socket changes what get() reports.
    let third = PrivateKey::generate().public_key().to_base64();
    ns1.wg_ok(
        &uapi1,
        &[
            "set",
            "wg1",
            "peer",
            &third,
            "endpoint",
            "192.0.2.3:51820",
            "allowed-ips",
            "10.9.0.3/32,fd00::3/128",
            "persistent-keepalive",
            "25",
        ],
    );
    let info = backend1.get("wg1").unwrap();
    let added = info
        .peers
        .iter()
        .find(|p| p.public_key.to_base64() == third)
        .expect("peer added");
    assert_eq!(added.endpoint, Some("192.0.2.3:51820".parse().unwrap()));
    assert_eq!(added.persistent_keepalive, Some(25));
    assert_eq!(added.allowed_ips.len(), 2);
    ns1.wg_ok(&uapi1, &["set", "wg1", "peer", &third, "remove"]);
    assert_eq!(backend1.get("wg1").unwrap().peers.len(), 1, "peer removed");

    // A new listen port from `wg` (UAPI thread) is bound in ns1 and traffic
    // follows it (ns2 learns the new endpoint from authenticated packets).
    ns1.wg_ok(&uapi1, &["set", "wg1", "listen-port", "51900"]);
    assert_eq!(backend1.get("wg1").unwrap().listen_port, 51900);
    // The old socket closes once the UDP reader has woken and let it go.
    wait_for("only the new port bound", Duration::from_secs(5), || {
        let sockets = ns1.exec_ok(&["ss", "-Huln"]);
        sockets.contains(":51900") && !sockets.contains(":51820")
    });
    ns1.exec_ok(&["ping", "-c2", "-i0.2", "-W2", "10.9.0.2"]);
    let endpoint = backend2.get("wg2").unwrap().peers[0].endpoint.unwrap();
    assert_eq!(endpoint.port(), 51900);

    // Errors come back as wg expects them (negated errno), changing nothing.
    let squatter = ns1.run_inside(|| std::net::UdpSocket::bind("[::]:51950").unwrap());
    let bad = ns1.wg(
        &uapi1,
        &["set", "wg1", "listen-port", "51950", "fwmark", "0x1"],
    );
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("Address already in use"), "{stderr}");
    assert_eq!(backend1.get("wg1").unwrap().listen_port, 51900);
    assert_eq!(backend1.get("wg1").unwrap().fwmark, 0);
    drop(squatter);
    ns1.wg_ok(&uapi1, &["set", "wg1", "fwmark", "0x1"]);

    // A private key from a file.
    let new_key = PrivateKey::generate();
    let file = key_file(dir1.path(), "wg1.key", &new_key);
    ns1.wg_ok(
        &uapi1,
        &["set", "wg1", "private-key", file.to_str().unwrap()],
    );
    assert_eq!(
        backend1.get("wg1").unwrap().public_key,
        Some(new_key.public_key())
    );
    assert_eq!(backend1.get("wg1").unwrap().fwmark, 1);

    // Delete: link, socket and threads go away; deleting again is fine.
    backend1.delete("wg1").unwrap();
    backend1.delete("wg1").unwrap();
    assert!(!backend1.exists("wg1"));
    assert!(!uapi1.join("wg1.sock").exists(), "socket removed");
    assert!(
        ns1.exec(&["ip", "link", "show", "wg1"]).status.code() != Some(0),
        "link gone"
    );
    assert!(
        threads_named("wg-")
            .iter()
            .all(|(name, _)| !name.ends_with("-wg1")),
        "threads gone"
    );

    // Dropping the backend stops the other engine too.
    drop(backend2);
    wait_for("wg2 to disappear", Duration::from_secs(2), || {
        !ns2.exec(&["ip", "link", "show", "wg2"]).status.success()
    });
    assert!(!uapi2.join("wg2.sock").exists());
}

#[test]
fn create_refuses_an_existing_name_and_a_down_tun_just_waits() {
    if !privileged() {
        return;
    }
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    ns.ip(&[
        "link",
        "add",
        "taken",
        "type",
        "veth",
        "peer",
        "name",
        "taken-peer",
    ]);
    let uapi = dir.path().to_owned();
    let (existing, second, backend) = ns.run_inside(move || {
        let backend = Userspace::new(uapi);
        let existing = backend.create("taken");
        backend.create("wg0").unwrap();
        let second = backend.create("wg0");
        (existing, second, backend)
    });
    assert!(existing.unwrap_err().to_string().contains("already exists"));
    assert!(second.unwrap_err().to_string().contains("already exists"));
    assert!(
        backend
            .get("nope")
            .unwrap_err()
            .to_string()
            .contains("nope")
    );

    // The TUN stays down: the engine neither spins nor dies, and still answers.
    let ours = || {
        threads_named("wg-")
            .into_iter()
            .filter(|(n, _)| n.ends_with("-wg0"))
            .count()
    };
    wait_for(
        "the engine's 2 packet threads",
        Duration::from_secs(2),
        || ours() == 2,
    );
    std::thread::sleep(Duration::from_millis(600));
    let info = backend.get("wg0").unwrap();
    assert_ne!(info.listen_port, 0);
    assert_eq!(ours(), 2);
    backend.delete("wg0").unwrap();
}
