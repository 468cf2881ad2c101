use super::*;
use crate::uapi::proto::{PeerDump, format_set_request, parse_get_response};
use crate::{PeerConfig, PeerInfo, PrivateKey, PublicKey};
use std::io::Read;
use std::sync::{Mutex, PoisonError};

#[derive(Default)]
struct Fake {
    applied: Mutex<Vec<DeviceConfig>>,
}

impl UapiHandler for Fake {
    fn uapi_get(&self) -> Result<DeviceDump, WgError> {
        Ok(DeviceDump {
            private_key: Some(PrivateKey::from_bytes([1; 32])),
            listen_port: 4242,
            fwmark: 0,
            peers: self
                .applied
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .flat_map(|c| c.peers.clone())
                .map(|p| PeerDump {
                    info: PeerInfo {
                        public_key: p.public_key,
                        endpoint: p.endpoint,
                        allowed_ips: p.allowed_ips,
                        last_handshake: None,
                        rx_bytes: 0,
                        tx_bytes: 0,
                        persistent_keepalive: None,
                    },
                    preshared_key: None,
                })
                .collect(),
        })
    }
    fn uapi_set(&self, config: &DeviceConfig) -> Result<(), WgError> {
        if config.listen_port == Some(1) {
            return Err(WgError::Bind {
                ifname: "wg0".into(),
                port: 1,
                source: io::Error::from_raw_os_error(libc::EADDRINUSE),
            });
        }
        self.applied
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(config.clone());
        Ok(())
    }
}

fn roundtrip(path: &Path, request: &str) -> String {
    let mut stream = UnixStream::connect(path).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serves_get_and_set_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let uapi_dir = dir.path().join("wireguard");
    // A stale socket from an earlier run is replaced.
    std::fs::create_dir(&uapi_dir).unwrap();
    drop(UnixListener::bind(uapi_dir.join("wg0.sock")).unwrap());

    let fake = Arc::new(Fake::default());
    let handler: Arc<dyn UapiHandler> = fake.clone();
    let mut server = UapiServer::start(&uapi_dir, "wg0", Arc::downgrade(&handler)).unwrap();
    let path = server.path().to_owned();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let mut peer = PeerConfig::new(PublicKey([2; 32]));
    peer.allowed_ips.push("10.0.0.2/32".parse().unwrap());
    let config = DeviceConfig {
        peers: vec![peer],
        ..Default::default()
    };
    assert_eq!(
        roundtrip(&path, &format_set_request(&config)),
        "errno=0\n\n"
    );
    assert_eq!(
        fake.applied
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_slice(),
        std::slice::from_ref(&config)
    );

    let (dump, errno) = parse_get_response(&roundtrip(&path, "get=1\n\n")).unwrap();
    assert_eq!(errno, 0);
    assert_eq!(dump.listen_port, 4242);
    assert_eq!(dump.peers[0].info.allowed_ips, config.peers[0].allowed_ips);

    // Two requests on one connection, then an error from the handler.
    let both = roundtrip(&path, "get=1\n\nset=1\nlisten_port=1\n\n");
    assert!(both.starts_with("private_key="), "{both}");
    assert!(both.ends_with("errno=0\n\nerrno=-98\n\n"), "{both}");

    assert_eq!(roundtrip(&path, "set=1\nbogus=1\n\n"), "errno=-22\n\n");

    server.stop();
    assert!(!path.exists(), "socket file removed on stop");
}

#[test]
fn refuses_to_replace_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wg0.sock"), "not a socket").unwrap();
    let handler: Arc<dyn UapiHandler> = Arc::new(Fake::default());
    let err = UapiServer::start(dir.path(), "wg0", Arc::downgrade(&handler))
        .err()
        .unwrap();
    assert!(err.to_string().contains("wg0.sock"), "{err}");
}
