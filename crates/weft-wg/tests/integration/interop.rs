//! Our userspace engine against other WireGuard implementations: each peer
//! daemon runs in its own namespace, configured with `wg` through its UAPI
//! socket, and traffic must pass both ways: pings, datagrams of every size
//! up to the MTU, and TCP streams checked by SHA-256. Our side runs the fast
//! path (TUN offloads, UDP GSO/GRO); the peers have none of it, so this is
//! also the proof that what we put on the wire is plain WireGuard.

use crate::common;

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::traffic::{tcp_transfer, udp_sizes};
use common::*;
use weft_wg::userspace::EngineOptions;
use weft_wg::{Backend, DeviceConfig, PeerConfig, PrivateKey};

/// `epoch_handshake_time`: whether the daemon reports the last handshake
/// as wall-clock time. boringtun 0.7 reports the time *since* it instead
/// (so `wg` shows 0 for a handshake under a second old).
fn interop_with(binary: &str, epoch_handshake_time: bool) {
    if !privileged() {
        return;
    }
    let Some(path) = which(binary) else {
        weft_testkit::skip(&format!("needs {binary} (scripts/deps installs it)"));
        return;
    };
    let (ns1, ns2) = underlay();
    let dir = tempfile::tempdir().unwrap();
    let (uapi1, uapi2) = (dir.path().join("uapi1"), dir.path().join("uapi2"));
    std::fs::create_dir(&uapi2).unwrap();

    // The other implementation, in ns2, with its UAPI socket in uapi2.
    let log = dir.path().join("peer.log");
    let out = File::create(&log).unwrap();
    let script = with_uapi_dir(
        &uapi2,
        &format!(
            "exec '{}' --foreground --disable-drop-privileges wgp",
            path.display()
        ),
    );
    let child = Command::new("ip")
        .args([
            "netns", "exec", &ns2.name, "unshare", "-m", "sh", "-c", &script,
        ])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let peer = Spawned { child, log };
    let socket = uapi2.join("wgp.sock");
    // Until its socket appears; the last value seen is its log.
    wait_for_value(
        &format!("{binary} to start"),
        Duration::from_secs(10),
        || {
            if socket.exists() {
                Ok(())
            } else {
                Err(peer.log())
            }
        },
        Result::is_ok,
    )
    .expect("the socket exists");

    // Ours, in ns1.
    let backend = start_engine(&ns1, uapi1.clone(), "wg1", EngineOptions::default());
    let (ours, theirs) = (PrivateKey::generate(), PrivateKey::generate());
    let mut peer_config = PeerConfig::new(theirs.public_key());
    peer_config.endpoint = Some("192.0.2.2:51820".parse().unwrap());
    peer_config.allowed_ips = vec!["10.9.0.2/32".parse().unwrap()];
    backend
        .configure(
            "wg1",
            &DeviceConfig {
                private_key: Some(ours.clone()),
                listen_port: Some(51820),
                peers: vec![peer_config],
                ..Default::default()
            },
        )
        .unwrap();

    let key_path = key_file(dir.path(), "theirs.key", &theirs);
    let our_public = ours.public_key().to_base64();
    ns2.wg_ok(
        &uapi2,
        &[
            "set",
            "wgp",
            "private-key",
            key_path.to_str().unwrap(),
            "listen-port",
            "51820",
            "peer",
            &our_public,
            "endpoint",
            "192.0.2.1:51820",
            "allowed-ips",
            "10.9.0.1/32",
        ],
    );
    address(&ns1, "wg1", "10.9.0.1/24");
    address(&ns2, "wgp", "10.9.0.2/24");

    let ping = |ns: &Netns, to: &str| {
        let out = ns.exec(&["ping", "-c3", "-i0.2", "-W2", to]);
        assert!(
            out.status.success(),
            "ping {to} from {} failed:\n{}\n{binary} log:\n{}",
            ns.name,
            String::from_utf8_lossy(&out.stdout),
            peer.log()
        );
    };
    ping(&ns1, "10.9.0.2");
    ping(&ns2, "10.9.0.1");

    let (path1, path2) = (ns1.path(), ns2.path());
    let (ours_ip, theirs_ip) = ("10.9.0.1".parse().unwrap(), "10.9.0.2".parse().unwrap());
    let sizes: Vec<usize> = (1..=1420 - 28).collect();
    let failed = udp_sizes(&path1, &path2, theirs_ip, 7001, sizes.clone());
    assert!(failed.is_empty(), "to {binary}: sizes {failed:?}");
    let failed = udp_sizes(&path2, &path1, ours_ip, 7002, sizes);
    assert!(failed.is_empty(), "from {binary}: sizes {failed:?}");
    tcp_transfer(&path1, &path2, theirs_ip, 7003, 64 << 20).assert_intact();
    tcp_transfer(&path2, &path1, ours_ip, 7004, 64 << 20).assert_intact();
    let counters = backend.engine("wg1").unwrap().offload_counters();
    assert!(
        counters.tun_super_packets > 0 && counters.udp_gso_sends > 0,
        "our side took the fast path: {counters:?}"
    );

    let info = backend.get("wg1").unwrap();
    let their_view = info.peer(&theirs.public_key()).unwrap();
    assert!(
        their_view.last_handshake.is_some() && their_view.rx_bytes > 0,
        "{their_view:?}"
    );
    let (_, peers) = parse_dump(&ns2.wg_ok(&uapi2, &["show", "wgp", "dump"]));
    assert_eq!(peers[0].public_key, our_public);
    assert!(
        peers[0].rx > 0 && peers[0].tx > 0,
        "{binary} saw: {:?}",
        peers[0]
    );
    if epoch_handshake_time {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let age = now.as_secs().abs_diff(peers[0].latest_handshake);
        assert!(age < 30, "{binary} saw: {:?}", peers[0]);
    }

    backend.delete("wg1").unwrap();
    drop(peer);
}

#[test]
fn interop_with_boringtun() {
    interop_with("boringtun-cli", false);
}

#[test]
fn interop_with_gotatun() {
    interop_with("gotatun", true);
}
